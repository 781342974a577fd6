import pytest

from lazyllm.client import ChatResult
from lazyllm.errors import FormatError
from lazyllm.formatter import FunctionCallFormatter

CALL = {'id': 'c1', 'type': 'function',
        'function': {'name': 'weather', 'arguments': '{"city": "Paris"}'}}


def test_keeps_role_content_and_tool_calls_only():
    message = {'role': 'assistant', 'content': 'calling', 'tool_calls': [CALL],
               'reasoning_content': 'hmm', 'extra': 1}
    assert FunctionCallFormatter()(message) == {'role': 'assistant', 'content': 'calling',
                                                'tool_calls': [CALL]}


def test_a_text_answer_becomes_an_assistant_message():
    assert FunctionCallFormatter()('It is sunny.') == {'role': 'assistant',
                                                       'content': 'It is sunny.'}


def test_a_client_result_becomes_an_assistant_message():
    out = FunctionCallFormatter()(ChatResult(content='', reasoning_content='r',
                                             tool_calls=[CALL]))
    assert out == {'role': 'assistant', 'content': '', 'tool_calls': [CALL]}


def test_lazyllm_text_form_with_tool_calls_is_read():
    text = 'Let me check.<|tool_calls|>[{"id": "c1", "type": "function", "function": ' \
           '{"name": "weather", "arguments": "{\\"city\\": \\"Paris\\"}"}}]'
    assert FunctionCallFormatter()(text) == {'role': 'assistant', 'content': 'Let me check.',
                                             'tool_calls': [CALL]}


def test_broken_tool_calls_and_wrong_input_are_format_errors():
    with pytest.raises(FormatError, match='not valid JSON'):
        FunctionCallFormatter()('x<|tool_calls|>[{"id": ')
    with pytest.raises(FormatError, match='not a list of tool calls'):
        FunctionCallFormatter()('x<|tool_calls|>"name"')
    with pytest.raises(FormatError, match='FunctionCallFormatter got a int'):
        FunctionCallFormatter()(3)
