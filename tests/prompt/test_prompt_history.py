import pytest

from lazyllm.errors import PromptError
from lazyllm.prompt import ChatPrompter


def messages(prompter, *args, **kw):
    return prompter.generate_prompt(*args, format='openai', **kw)['messages']


def test_pairs_and_message_dicts_are_accepted_and_prompter_history_comes_first():
    p = ChatPrompter({'system': 'S'}, history=[['q1', 'a1']])
    call = [{'role': 'user', 'content': 'q2'}, ('a2-user', 'a2')]
    assert messages(p, 'q3', call) == [
        {'role': 'system', 'content': 'S'},
        {'role': 'user', 'content': 'q1'}, {'role': 'assistant', 'content': 'a1'},
        {'role': 'user', 'content': 'q2'},
        {'role': 'user', 'content': 'a2-user'}, {'role': 'assistant', 'content': 'a2'},
        {'role': 'user', 'content': 'q3'}]


def test_in_text_both_histories_come_between_instruction_and_input():
    p = ChatPrompter({'system': 'S'}, history=[['q1', 'a1']])
    got = p.generate_prompt('q3', [{'role': 'user', 'content': 'q2'},
                                   {'role': 'assistant', 'content': 'a2'}])
    assert got == 'S\n\nq1a1q2a2\n\nq3\n\n'


def test_tool_turns_and_parts_and_extra_message_keys_are_kept():
    history = [
        {'role': 'assistant', 'content': None,
         'tool_calls': [{'id': 'c1', 'type': 'function',
                         'function': {'name': 'f', 'arguments': '{}'}}]},
        {'role': 'tool', 'tool_call_id': 'c1', 'content': '42'},
        {'role': 'user', 'content': [{'type': 'text', 'text': 'thanks'}]},
    ]
    got = messages(ChatPrompter(), 'ok', history)
    assert got[:3] == history
    assert got[0] is not history[0]
    text = ChatPrompter().generate_prompt('ok', history)
    assert text == '\n\n\n{"name": "f", "arguments": "{}"}\n42thanks\n\nok\n\n'


@pytest.mark.parametrize('history, match', [
    ('hi', 'the history passed to generate_prompt is a str'),
    ({'role': 'user'}, 'is a dict'),
    ([['q', 'a'], ['only one']], r"item 1 of the history .* is \['only one'\]"),
    ([['q', 'a'], ['q', 'a'], ['q', 3]], "item 2 of .*expected a \\[user, assistant\\] pair"),
    ([{'role': 'bot', 'content': 'x'}], "item 0 .* has role 'bot': use one of system, user"),
    ([{'role': 'user'}], "item 0 .* has no 'content'"),
    ([{'role': 'user', 'content': 5}], 'has content 5: use a str or a list of parts'),
    ([{'role': 'user', 'content': [{'text': 'x'}]}], 'list of parts'),
    ([42], 'item 0 .* is 42'),
])
def test_bad_history_items_are_named_by_index(history, match):
    with pytest.raises(PromptError, match=match):
        ChatPrompter().generate_prompt('x', history)


def test_bad_constructor_history_is_caught_at_construction():
    with pytest.raises(PromptError, match=r'item 0 of the history given to ChatPrompter\(\)'):
        ChatPrompter('S', history=[['q']])
