"""The text layout (the default format) of ChatPrompter, with and without model tokens."""
import pytest

from lazyllm.errors import InputError, PromptError
from lazyllm.prompt import ChatPrompter

TOKENS = dict(sos='<s>', eos='</s>', soh='<h>', eoh='</h>', soa='<a>', eoa='</a>',
              soe='<e>', eoe='</e>')


def test_layout_without_tokens():
    p = ChatPrompter({'system': 'Add.', 'user': 'In: '}, history=[['In: 1+1', '2']])
    assert p.generate_prompt('2+2') == 'Add.\n\nIn: 1+12\n\nIn: 2+2\n\n'
    assert p.generate_prompt('2+2', format='text') == p.generate_prompt('2+2')


def test_model_tokens_frame_each_part():
    p = ChatPrompter({'system': 'Add.', 'user': 'In: '}, history=[['1+1', '2']])
    p._set_model_configs(**TOKENS)
    history = [{'role': 'assistant', 'content': None, 'tool_calls': [
        {'id': 'c', 'type': 'function', 'function': {'name': 'calc', 'arguments': '{}'}}]},
        {'role': 'tool', 'tool_call_id': 'c', 'content': '4'}]
    assert p.generate_prompt('2+2', history) == (
        '<s>Add.</s>\n\n<h>1+1</h><a>2</a><a>\n{"name": "calc", "arguments": "{}"}\n</a>'
        '<e>4</e>\n<h>\nIn: 2+2\n</h><a>\n')


def test_system_config_is_the_system_text():
    p = ChatPrompter('Task.')
    p._set_model_configs(system='You are {name}.')
    assert p.placeholders == ('name',)
    assert p.generate_prompt({'name': 'Ada', 'q': 'hi'}) == (
        'You are Ada.Task.\n\n\n\n\n\nhi\n\n')


@pytest.mark.parametrize('configs, match', [
    ({'bos': 'x'}, r"unknown config\(s\) \['bos'\]"),
    ({'sos': 1}, r"\['sos'\] must be str"),
])
def test_bad_model_configs(configs, match):
    with pytest.raises(InputError, match=match):
        ChatPrompter()._set_model_configs(**configs)


def test_tools_are_written_after_the_instruction():
    tool = {'type': 'function', 'function': {'name': 'add'}}
    got = ChatPrompter('Use tools.', tools=[tool]).generate_prompt('1+1')
    assert got == ('Use tools.\n\n### Function-call Tools. \n\n'
                   '[{"type": "function", "function": {"name": "add"}}]\n\n\n\n\n\n1+1\n\n')


def test_label_is_appended_for_finetuning_data():
    assert ChatPrompter().generate_prompt('q', label='A') == '\n\n\n\nq\n\nA'
    with pytest.raises(InputError, match='label is the answer str'):
        ChatPrompter().generate_prompt('q', label='A', format='openai')
    with pytest.raises(InputError, match='label is the answer str'):
        ChatPrompter().generate_prompt('q', label=3)


def test_a_system_message_in_history_has_no_place_in_text():
    with pytest.raises(PromptError, match='history message 0 is a system message'):
        ChatPrompter().generate_prompt('q', [{'role': 'system', 'content': 's'}])


def test_chat_template_callable_renders_the_messages():
    seen = []

    def template(messages, **kw):
        seen.append(kw)
        return '|'.join(m['role'] + '=' + m['content'] for m in messages)

    p = ChatPrompter({'system': 'S'})
    assert p.generate_prompt('u', chat_template=template) == 'system=S|user=u'
    assert p.generate_prompt('u', chat_template=template, label='!').endswith('user=u!')
    tool = {'type': 'function', 'function': {'name': 'f'}}
    p.generate_prompt('u', tools=[tool], chat_template=template)
    assert seen[-1] == {'tools': [tool]}
    with pytest.raises(InputError, match='chat_template returned a list'):
        p.generate_prompt('x', chat_template=lambda m: [1])
    with pytest.raises(InputError, match="only used with format=None or 'text'"):
        p.generate_prompt('x', format='openai', chat_template=lambda m: '')


def test_get_response_cuts_the_echo_or_splits_on_the_answer_token():
    p = ChatPrompter()
    assert p.get_response('PROMPT answer', 'PROMPT ') == 'answer'
    assert p.get_response('just text') == 'just text'
    p._set_model_configs(soa='<a>')
    assert p.get_response('x<a>y<a>answer') == 'answer'
    with pytest.raises(InputError, match='model output as a str'):
        p.get_response(None)
