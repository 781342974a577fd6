import pytest

import lazyllm.formatter
from lazyllm.errors import FormatError, InputError
from lazyllm.formatter import EmptyFormatter, JsonFormatter, extract_json


def test_issue_example_exactly():
    assert lazyllm.formatter.JsonFormatter('[0]{name}')('text {"name": "a"} more') == 'a'


def test_one_value_is_returned_as_is_and_several_as_a_list():
    assert JsonFormatter()('Result: {"a": 1}. Done.') == {'a': 1}
    assert JsonFormatter()('first [1, 2] then {"b": null}') == [[1, 2], {'b': None}]


def test_braces_inside_strings_and_invalid_candidates_are_handled():
    text = 'Note {not json} and [broken, then {"s": "a } { b ]", "n": [1, {"x": 2}]} end'
    assert JsonFormatter()(text) == {'s': 'a } { b ]', 'n': [1, {'x': 2}]}


def test_fenced_json_blocks_are_preferred_over_bracketed_prose():
    text = 'As shown in [1], here it is:\n```json\n{"ok": true}\n```\nand ```JSON\n[3]\n```'
    assert extract_json(text) == [{'ok': True}, [3]]
    assert JsonFormatter('[0]{ok}')(text) is True
    assert extract_json('see [1] and {"a": 2}') == [[1], {'a': 2}]


def test_a_fence_without_json_falls_back_to_the_whole_text():
    assert extract_json('```json\nnot json\n```\n{"a": 1}') == [{'a': 1}]


def test_parsed_input_is_used_as_is_and_counts_as_one_value():
    data = {'name': 'x', 'tags': ['a', 'b']}
    assert JsonFormatter()(data) is data
    assert JsonFormatter('[0]{tags}[-1]')(data) == 'b'
    assert JsonFormatter('[0][1]')([5, 6]) == 6
    assert JsonFormatter()(b'{"a": 1}') == {'a': 1}


def test_selection_starts_from_the_list_of_values():
    text = '{"id": 1, "name": "a"} and {"id": 2, "name": "b"}'
    assert JsonFormatter('[:]{name}')(text) == ['a', 'b']
    assert JsonFormatter('[-1]{id,name}')(text) == {'id': 2, 'name': 'b'}
    assert JsonFormatter('')(text) == JsonFormatter()(text)


def test_no_json_is_a_format_error_with_an_excerpt_and_a_fix():
    text = 'I cannot answer that. ' * 20
    with pytest.raises(FormatError) as e:
        JsonFormatter()(text)
    msg = str(e.value)
    assert repr(text[:200] + '...') in msg
    assert 'ask the model to answer in JSON' in msg and 'EmptyFormatter()' in msg
    assert isinstance(e.value, ValueError)


def test_selection_failure_is_a_format_error():
    with pytest.raises(FormatError, match="selector {age} at \\[0\\] finds no key 'age'"):
        JsonFormatter('[0]{age}')('{"name": "a"}')


def test_bad_input_type_and_bad_expression():
    with pytest.raises(FormatError, match='got a int'):
        JsonFormatter()(5)
    with pytest.raises(InputError, match='position 3'):
        JsonFormatter('[0]x')


def test_repr_and_no_state():
    f = JsonFormatter('[0]{name}')
    assert repr(f) == "JsonFormatter('[0]{name}')"
    assert repr(JsonFormatter()) == 'JsonFormatter()'
    assert f('{"name": "a"}') == 'a' and f('{"name": "b"}') == 'b'
    assert EmptyFormatter()('{"a": 1}') == '{"a": 1}'
