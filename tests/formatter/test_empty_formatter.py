from lazyllm.client import ChatResult
from lazyllm.formatter import EmptyFormatter

CALL = {'id': 'c1', 'type': 'function', 'function': {'name': 'f', 'arguments': '{}'}}


def test_plain_values_are_unchanged():
    data = {'a': 1}
    assert EmptyFormatter()(data) is data
    assert EmptyFormatter()('text') == 'text' and EmptyFormatter()(None) is None


def test_a_chat_message_is_shown_as_its_text():
    assert EmptyFormatter()({'role': 'assistant', 'content': 'hello'}) == 'hello'
    parts = {'role': 'assistant', 'content': [{'type': 'text', 'text': 'a'},
                                              {'type': 'text', 'text': 'b'}]}
    assert EmptyFormatter()(parts) == 'ab'


def test_reasoning_is_shown_in_think_tags_as_lazyllm_shows_it():
    message = {'role': 'assistant', 'content': '42', 'reasoning_content': 'six times seven'}
    assert EmptyFormatter()(message) == '<think>six times seven</think>42'
    assert EmptyFormatter()({'role': 'assistant', 'content': '1', 'reasoning': 'r'}) == \
        '<think>r</think>1'


def test_client_chat_results_are_chat_messages():
    result = ChatResult(content='42', reasoning_content='because')
    assert EmptyFormatter()(result) == '<think>because</think>42'
    assert EmptyFormatter()(ChatResult(content='plain')) == 'plain'


def test_a_message_with_tool_calls_is_kept_whole():
    message = {'role': 'assistant', 'content': None, 'tool_calls': [CALL]}
    assert EmptyFormatter()(message) is message
    result = ChatResult(content='', tool_calls=[CALL])
    assert EmptyFormatter()(result) is result
