import pytest

import lazyllm
import lazyllm.formatter
from lazyllm.errors import FormatError, InputError
from lazyllm.formatter import EmptyFormatter, JsonFormatter


def test_one_value_is_the_data_and_several_are_a_list():
    assert JsonFormatter()('Result: {"a": 1}. Done.') == {'a': 1}
    assert JsonFormatter()('first [1, 2] then {"b": null}') == [[1, 2], {'b': None}]


def test_selection_starts_from_the_value_found():
    text = 'Here you go: {"birthday": {"year": 2024}, "name": "Ada"}'
    assert JsonFormatter('[birthday][year]')(text) == 2024
    assert JsonFormatter('{name}')(text) == {'name': 'Ada'}
    assert JsonFormatter('[name]')('text {"name": "a"} more') == 'a'


def test_selection_over_several_values_indexes_them():
    text = '{"id": 1, "name": "a"} and {"id": 2, "name": "b"}'
    assert JsonFormatter('[:][name]')(text) == ['a', 'b']
    assert JsonFormatter('[-1]{id,name}')(text) == {'id': 2, 'name': 'b'}
    assert JsonFormatter('')(text) == JsonFormatter()(text)


def test_parsed_data_is_selected_as_it_is():
    data = [{'name': 'x'}, {'name': 'y'}]
    assert JsonFormatter('[:]')(data) == data             # LazyLLM: the whole list, not [data]
    assert JsonFormatter('[:][name]')(data) == ['x', 'y']
    assert JsonFormatter()(data) is data
    assert JsonFormatter('[1]')((5, 6)) == 6
    assert JsonFormatter()(7) == 7
    assert JsonFormatter()(b'{"a": 1}') == {'a': 1}


def test_several_arguments_are_formatted_as_one_package():
    out = JsonFormatter('[0,2]')('a', 'b', 'c')
    assert isinstance(out, lazyllm.package) and tuple(out) == ('a', 'c')


def test_reasoning_before_the_answer_is_skipped():
    text = '<think>maybe {"draft": 1}? no.</think>\n{"final": 2}'
    assert JsonFormatter()(text) == {'final': 2}
    assert JsonFormatter()('I weighed [a, b]...</think>{"final": 3}') == {'final': 3}


def test_a_chat_message_is_read_from_its_content():
    message = {'role': 'assistant', 'content': '{"a": 1}', 'reasoning_content': '{"no": 0}'}
    assert JsonFormatter('[a]')(message) == 1


def test_a_tool_call_message_has_no_text_to_parse():
    message = {'role': 'assistant', 'content': None,
               'tool_calls': [{'id': 'c', 'type': 'function',
                               'function': {'name': 'f', 'arguments': '{}'}}]}
    with pytest.raises(FormatError, match='use FunctionCallFormatter'):
        JsonFormatter()(message)


def test_no_json_is_a_format_error_with_an_excerpt_and_a_fix():
    text = 'I cannot answer that. ' * 20
    with pytest.raises(FormatError) as e:
        JsonFormatter()(text)
    msg = str(e.value)
    assert repr(text[:200] + '...') in msg
    assert 'ask the model to answer in JSON' in msg and 'EmptyFormatter()' in msg
    assert isinstance(e.value, ValueError)


def test_prose_in_brackets_is_not_json():
    with pytest.raises(FormatError, match='no JSON'):
        JsonFormatter()('See [the appendix] and {the notes}.')


def test_selection_failure_is_a_format_error():
    with pytest.raises(FormatError, match="selector \\[age\\] at the top level finds no key"):
        JsonFormatter('[age]')('{"name": "a"}')


def test_bad_construction_and_bad_input():
    with pytest.raises(InputError, match='position 3'):
        JsonFormatter('[0]x')
    with pytest.raises(InputError, match='takes a selection expression'):
        JsonFormatter(0)
    with pytest.raises(FormatError, match='JsonFormatter got a set'):
        JsonFormatter()({1, 2})
    with pytest.raises(InputError, match='called with nothing to format'):
        JsonFormatter()()


def test_repr_and_no_state():
    f = JsonFormatter('[name]')
    assert repr(f) == "JsonFormatter('[name]')"
    assert repr(JsonFormatter()) == 'JsonFormatter()'
    assert f('{"name": "a"}') == 'a' and f('{"name": "b"}') == 'b'
    assert EmptyFormatter()('{"a": 1}') == '{"a": 1}'


def test_lazyllm_names_are_exported():
    f = lazyllm.formatter
    assert f.Json is f.JsonFormatter and f.JsonLike is f.JsonLikeFormatter
    assert f.File is f.FileFormatter and f.FunctionCall is f.FunctionCallFormatter
    assert f.Empty is f.EmptyFormatter and f.Yaml is f.YamlFormatter
    assert issubclass(f.PythonFormatter, f.JsonLikeFormatter)
    assert issubclass(f.JsonFormatter, f.JsonLikeFormatter)
    assert f.PipelineFormatter is f.PipeFormatter and f.LazyLLMFormatterBase is f.FormatterBase
