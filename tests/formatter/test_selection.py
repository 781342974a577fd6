import pytest

import lazyllm
from lazyllm.errors import FormatError, InputError
from lazyllm.formatter._slicing import Selection

DATA = {'a': [1, 2, 3], 'b': [4, 5], 'c': {'d': 'x'}}
ITEMS = [{'name': 'p', 'n': 1}, {'name': 'q', 'n': 2}, {'name': 'r', 'n': 3}]


@pytest.mark.parametrize('expr, data, expected', [
    # lists and tuples
    ('[0]', [7, 8, 9], 7),
    ('[-1]', [7, 8, 9], 9),
    ('[0,2]', [7, 8, 9], [7, 9]),
    ('[ 0 , -1 ]', [7, 8, 9], [7, 9]),
    ('[0,]', [7, 8, 9], [7]),
    ('[1:]', [7, 8, 9], [8, 9]),
    ('[::2]', [7, 8, 9], [7, 9]),
    ('[None:2]', [7, 8, 9], [7, 8]),
    ('[2:0:-1]', [7, 8, 9], [9, 8]),
    ('[:]', [7, 8], [7, 8]),
    # dicts: [key] is the value, {key} the sub-dict
    ('[a]', DATA, [1, 2, 3]),
    ('[c][d]', DATA, 'x'),
    ('{a}', DATA, {'a': [1, 2, 3]}),
    ('{a,b}', DATA, {'a': [1, 2, 3], 'b': [4, 5]}),
    ('{ a , c }', DATA, {'a': [1, 2, 3], 'c': {'d': 'x'}}),
    ('{:}', DATA, DATA),
    ('[a, b]', DATA, [[1, 2, 3], [4, 5]]),
    ('[:]', {'x': 1, 'y': 2}, [1, 2]),
    # fan-out: the selectors after a multi-selector apply to each item
    ('{a,b}[0]', DATA, {'a': 1, 'b': 4}),
    ('{a,b}[-1:]', DATA, {'a': [3], 'b': [5]}),
    ('[:][name]', ITEMS, ['p', 'q', 'r']),
    ('[0,2][n]', ITEMS, [1, 3]),
    ('[:]{name}', ITEMS[:2], [{'name': 'p'}, {'name': 'q'}]),
    ('[:][name,n]', ITEMS[:2], [['p', 1], ['q', 2]]),
    ('{:}[0]', {'x': [1], 'y': [2]}, {'x': 1, 'y': 2}),
    ('[:][:]', [[1, 2], [3]], [[1, 2], [3]]),
    ('[:][0]', {'x': [1, 2], 'y': [3]}, [1, 3]),
    # strings slice; YAML integer keys are found from their text
    ('[1:3]', 'hello', 'el'),
    ('[0][1:]', ['abc'], 'bc'),
    ('[1]', {1: 'first'}, 'first'),
    ('{1}', {1: 'first'}, {1: 'first'}),
    ('', [1], [1]),
])
def test_selection(expr, data, expected):
    assert Selection(expr)(data) == expected


@pytest.mark.parametrize('kind', [tuple, lazyllm.package])
def test_tuples_and_packages_keep_their_type(kind):
    data = kind([1, 2, 3, 4])
    for expr, expected in [('[0,2]', [1, 3]), ('[1:]', [2, 3, 4]), ('[:]', [1, 2, 3, 4])]:
        out = Selection(expr)(data)
        assert type(out) is kind and list(out) == expected


def test_star_returns_a_package_of_the_items():
    out = Selection('*[0,2]')([7, 8, 9])
    assert isinstance(out, lazyllm.package) and tuple(out) == (7, 9)
    out = Selection('*[a,b]')({'a': 1, 'b': 2})
    assert isinstance(out, lazyllm.package) and tuple(out) == (1, 2)
    assert isinstance(Selection('* [:]')({'a': 1}), lazyllm.package)


def test_selection_does_not_change_its_input():
    data = {'a': [1, 2], 'b': [3]}
    out = Selection('{:}')(data)
    assert out == data and out is not data
    assert data == {'a': [1, 2], 'b': [3]}


@pytest.mark.parametrize('expr, data, match', [
    ('[z]', DATA, "selector \\[z\\] at the top level finds no key 'z': the data there is a dict "
                  "with keys 'a', 'b', 'c'"),
    ('{z}', DATA, "selector \\{z\\} at the top level finds no key 'z'"),
    ('[a][5]', DATA, r'selector \[5\] at \[a\] index 5 is out of range: .* a list of 3 items'),
    ('[x]', [1, 2], r"needs an integer index on a list of 2 items, not 'x'"),
    ('{a}', [1, 2], r"selector \{a\} at the top level needs a dict, but the data there is a list"),
    ('[a]{x}', DATA, r'selector \{x\} at \[a\] needs a dict, but the data there is a list of 3'),
    ('[:][n]', [{'n': 1}, {'m': 2}], r"selector \[n\] at \[1\] finds no key 'n'"),
    ('[c][d][0]', DATA, r"needs a list or a dict, but the data there is a str \('x'\)"),
    ('[1:]', DATA, r'only \[:\] applies to a dict'),
    ('[0,1]', 5, r'needs a list or a dict, but the data there is a int'),
    ('[:]', 5, r'needs a list, a dict or a str'),
])
def test_selection_errors_name_the_selector_and_the_data(expr, data, match):
    with pytest.raises(FormatError, match=match) as e:
        Selection(expr)(data)
    assert 'fix the expression' in str(e.value)


@pytest.mark.parametrize('expr, position, reason', [
    ('[0', 0, 'is never closed'),
    ('[0]x', 3, "found 'x'"),
    ('[a:1]', 0, "'a' in [a:1] is not an integer"),
    ('[,]', 0, 'names no item'),
    ('[]', 0, 'is empty'),
    ('[ ]', 0, 'is empty'),
    ('[1:2:3:4]', 0, 'more than two colons'),
    ('[::0]', 0, 'step 0'),
    ('[0, 1:2]', 0, 'mixes a slice and a list'),
    ('[0}', 2, "'}' inside"),
    ('{a[0]}', 2, "'[' inside"),
    ('{}', 0, 'names no key'),
    ('{ , }', 0, 'names no key'),
    ('{a, :}', 0, 'mixes {:} with keys'),
    ('*{a}', 1, "'*' goes only right before the first ["),
    ('[0]*[1]', 3, "'*' goes only at the very beginning"),
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
