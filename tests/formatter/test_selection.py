import pytest

from lazyllm.errors import FormatError, InputError
from lazyllm.formatter._slicing import Selection

DATA = {'a': [1, 2, 3], 'b': [4, 5], 'c': {'d': 'x'}}
ITEMS = [{'name': 'p', 'n': 1}, {'name': 'q', 'n': 2}, {'name': 'r', 'n': 3}]


@pytest.mark.parametrize('expr, data, expected', [
    ('[0]', [7, 8, 9], 7),
    ('[-1]', [7, 8, 9], 9),
    ('[0,2]', [7, 8, 9], [7, 9]),
    ('[ 0 , -1 ]', [7, 8, 9], [7, 9]),
    ('[1:]', [7, 8, 9], [8, 9]),
    ('[::2]', [7, 8, 9], [7, 9]),
    ('[2:0:-1]', [7, 8, 9], [9, 8]),
    ('[:]', (7, 8), [7, 8]),
    ('{a}', DATA, [1, 2, 3]),
    ('{c}{d}', DATA, 'x'),
    ('{a,b}', DATA, {'a': [1, 2, 3], 'b': [4, 5]}),
    ('{ a , c }', DATA, {'a': [1, 2, 3], 'c': {'d': 'x'}}),
    ('{:}', DATA, DATA),
    ('{a,b}[0]', DATA, {'a': 1, 'b': 4}),
    ('{a,b}[-1:]', DATA, {'a': [3], 'b': [5]}),
    ('[:]{name}', ITEMS, ['p', 'q', 'r']),
    ('[0,2]{n}', ITEMS, [1, 3]),
    ('[:]{name,n}', ITEMS[:1], [{'name': 'p', 'n': 1}]),
    ('{:}[0]', {'x': [1], 'y': [2]}, {'x': 1, 'y': 2}),
    ('[:][:]', [[1, 2], [3]], [[1, 2], [3]]),
    ('{1}', {1: 'first'}, 'first'),
    ('', [1], [1]),
])
def test_selection(expr, data, expected):
    assert Selection(expr)(data) == expected


@pytest.mark.parametrize('expr, data, match', [
    ('{z}', DATA, "selector {z} at the top level finds no key 'z': the data there is a dict "
                  "with keys 'a', 'b', 'c'"),
    ('{a}[5]', DATA, r'selector \[5\] at \{a\} is out of range: .* a list of 3 items'),
    ('[0]', DATA, r"selector \[0\] at the top level needs a list, but the data there is a dict"),
    ('{a}{x}', DATA, r'selector \{x\} at \{a\} needs a dict, but the data there is a list of 3'),
    ('[:]{n}', [{'n': 1}, {'m': 2}], r"selector \{n\} at \[1\] finds no key 'n'"),
    ('{c}{d}[0]', DATA, r"needs a list, but the data there is a str \('x'\)"),
])
def test_selection_errors_name_the_selector_and_the_data(expr, data, match):
    with pytest.raises(FormatError, match=match) as e:
        Selection(expr)(data)
    assert 'fix the expression' in str(e.value)


@pytest.mark.parametrize('expr, position, reason', [
    ('[0', 0, 'is never closed'),
    ('[0]x', 3, "found 'x'"),
    ('[a]', 0, "'a' in [a] is not an integer"),
    ('[0,]', 0, "'' in [0,] is not an integer"),
    ('[]', 0, "'' in [] is not an integer"),
    ('[1:2:3:4]', 0, 'more than two colons'),
    ('[::0]', 0, 'step 0'),
    ('[0}', 2, "'}' inside"),
    ('{a[0]}', 2, "'[' inside"),
    ('{}', 0, 'is not a key list'),
    ('{a,}', 0, 'is not a key list'),
    ('{a:b}', 0, 'is not a key list'),
])
def test_bad_expressions_point_at_the_position(expr, position, reason):
    with pytest.raises(InputError) as e:
        Selection(expr)
    msg = str(e.value)
    assert f'at position {position}:' in msg and reason in msg
    assert msg.endswith(f'  {expr}\n  {" " * position}^')
    assert 'selectors look like' in msg


def test_non_str_expression():
    with pytest.raises(InputError, match='is not a str'):
        Selection(['[0]'])
