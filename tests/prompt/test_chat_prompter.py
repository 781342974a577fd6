import threading

import pytest

import lazyllm.prompt
from lazyllm.errors import InputError, PromptError
from lazyllm.prompt import ChatPrompter


def test_issue_example_exactly():
    p = ChatPrompter('You are a {role}.', extra_keys=['context'])
    got = p.generate_prompt({'role': 'poet', 'input': 'hi', 'context': 'rain'}, format='openai')
    assert got == {'messages': [
        {'role': 'system', 'content': 'You are a poet.\n\n### context:\nrain'},
        {'role': 'user', 'content': 'hi'}]}


def test_no_instruction_gives_only_the_user_message():
    assert ChatPrompter().generate_prompt('hello') == {
        'messages': [{'role': 'user', 'content': 'hello'}]}


def test_str_input_is_the_user_message_when_no_input_placeholder():
    got = ChatPrompter('Be brief.').generate_prompt('why?')
    assert got['messages'] == [{'role': 'system', 'content': 'Be brief.'},
                               {'role': 'user', 'content': 'why?'}]


def test_str_input_fills_the_input_placeholder_instead_of_a_user_message():
    got = ChatPrompter('Translate to French: {input}').generate_prompt('cat')
    assert got['messages'] == [{'role': 'system', 'content': 'Translate to French: cat'}]


def test_user_template_from_instruction_dict():
    p = ChatPrompter({'system': 'You answer about {topic}.', 'user': 'Question: {input}'})
    got = p.generate_prompt({'topic': 'cats', 'input': 'do they purr?'})
    assert got['messages'] == [
        {'role': 'system', 'content': 'You answer about cats.'},
        {'role': 'user', 'content': 'Question: do they purr?'}]
    assert p.placeholders == ('topic', 'input')


def test_user_template_without_input_placeholder_rejects_an_input_text():
    p = ChatPrompter({'user': 'Say hello'})
    assert p.generate_prompt()['messages'] == [{'role': 'user', 'content': 'Say hello'}]
    with pytest.raises(PromptError, match=r"instruction\['user'\] has no \{input\}; add"):
        p.generate_prompt('hi')


def test_system_keyword_comes_before_the_instruction_and_is_a_template():
    p = ChatPrompter('Task: {task}', system='You are {name}.')
    got = p.generate_prompt({'task': 'sum', 'name': 'Ada', 'input': '1+1'})
    assert got['messages'][0] == {'role': 'system', 'content': 'You are Ada.\n\nTask: sum'}


def test_extra_keys_keep_the_given_order_and_render_dicts_as_json():
    p = ChatPrompter('Hi', extra_keys=['b', 'a'])
    got = p.generate_prompt({'a': {'x': 1}, 'b': [1, 2], 'input': 'q'})
    assert got['messages'][0]['content'] == 'Hi\n\n### b:\n[1, 2]\n\n### a:\n{"x": 1}'


def test_extra_keys_without_instruction_make_the_system_message():
    got = ChatPrompter(extra_keys=['context']).generate_prompt({'context': 'c', 'input': 'q'})
    assert got['messages'][0] == {'role': 'system', 'content': '### context:\nc'}


def test_missing_placeholder_with_str_input_says_to_pass_a_dict():
    with pytest.raises(PromptError) as e:
        ChatPrompter('You are a {role}.').generate_prompt('hi')
    msg = str(e.value)
    assert "placeholder {role} in the instruction has no value" in msg
    assert "pass a dict input with key 'role'" in msg
    assert 'remove {role} from the instruction' in msg


def test_missing_placeholders_with_dict_input_are_all_named():
    with pytest.raises(PromptError, match=r"\{a\}, \{b\} .* add keys 'a', 'b' to the input"):
        ChatPrompter('{a} and {b}').generate_prompt({'input': 'x'})


def test_missing_extra_key_is_an_error():
    with pytest.raises(PromptError, match="extra key.*'context'.*pass a dict input"):
        ChatPrompter('x', extra_keys=['context']).generate_prompt('hi')


def test_unknown_dict_key_is_reported_as_a_typo():
    p = ChatPrompter('You are a {role}.')
    with pytest.raises(PromptError) as e:
        p.generate_prompt({'rol': 'poet', 'input': 'hi'})
    assert "unknown key(s) 'rol'" in str(e.value)
    assert "'input', 'role'" in str(e.value)


def test_input_of_a_wrong_type():
    with pytest.raises(PromptError, match='input is a int: pass a str'):
        ChatPrompter().generate_prompt(3)


def test_multimodal_user_content_is_kept_as_parts():
    parts = [{'type': 'text', 'text': 'what is this?'},
             {'type': 'image_url', 'image_url': {'url': 'data:image/png;base64,AA=='}}]
    got = ChatPrompter().generate_prompt({'input': parts})
    assert got['messages'] == [{'role': 'user', 'content': parts}]
    with pytest.raises(PromptError, match="'image_url' part.*format='openai'"):
        ChatPrompter().generate_prompt({'input': parts}, format=None)


def test_tools_are_added_only_when_given():
    tool = {'type': 'function', 'function': {'name': 'add', 'parameters': {'type': 'object'}}}
    p = ChatPrompter('Use tools.', tools=[tool])
    assert p.generate_prompt('1+1')['tools'] == [tool]
    assert 'tools' not in ChatPrompter().generate_prompt('1+1')
    other = {'function': {'name': 'mul'}}
    assert p.generate_prompt('2*2', tools=[other])['tools'] == [
        {'type': 'function', 'function': {'name': 'mul'}}]
    assert 'tools' not in p.generate_prompt('x', tools=[])


@pytest.mark.parametrize('tools', ['add', [{'type': 'function'}], [{'function': {'name': ''}}],
                                   [{'type': 'retrieval', 'function': {'name': 'f'}}]])
def test_bad_tools(tools):
    with pytest.raises(PromptError, match='OpenAI tool dict|list of tool dicts'):
        ChatPrompter().generate_prompt('x', tools=tools)


def test_text_format_layout():
    p = ChatPrompter('Be kind.', history=[['hi', 'hello']])
    text = p.generate_prompt('how are you?', format=None)
    assert text == ('Be kind.\n\nUser: hi\n\nAssistant: hello\n\n'
                    'User: how are you?\n\nAssistant:')
    assert p.generate_prompt('how are you?', format='text') == text


def test_text_format_uses_a_chat_template_callable():
    seen = []

    def template(messages, **kw):
        seen.append((messages, kw))
        return '|'.join(m['role'] + '=' + m['content'] for m in messages)

    p = ChatPrompter('S')
    assert p.generate_prompt('u', format=None, chat_template=template) == 'system=S|user=u'
    tool = {'type': 'function', 'function': {'name': 'f'}}
    p.generate_prompt('u', tools=[tool], format=None, chat_template=template)
    assert seen[-1][1] == {'tools': [tool]}


def test_text_format_errors():
    with pytest.raises(PromptError, match='cannot show tools'):
        ChatPrompter().generate_prompt('x', tools=[{'function': {'name': 'f'}}], format=None)
    with pytest.raises(InputError, match='chat_template returned a list'):
        ChatPrompter().generate_prompt('x', format=None, chat_template=lambda m: [1])
    with pytest.raises(InputError, match="only used with format=None or 'text'"):
        ChatPrompter().generate_prompt('x', chat_template=lambda m: '')


def test_unknown_format_lists_the_valid_ones():
    with pytest.raises(InputError, match=r"format='xml' .* \('openai', 'text', None\)"):
        ChatPrompter().generate_prompt('x', format='xml')


@pytest.mark.parametrize('kwargs, match', [
    ({'instruction': 3}, 'instruction is a int'),
    ({'instruction': {'sys': 'x'}}, "key\\(s\\) 'sys': use only 'system'"),
    ({'instruction': {'user': 5}}, r"instruction\['user'\] is a int"),
    ({'instruction': 'x', 'extra_keys': 'context'}, 'pass a list of non-empty str'),
    ({'instruction': 'x', 'extra_keys': [1]}, 'pass a list of non-empty str'),
    ({'instruction': '{a}', 'extra_keys': ['a']}, 'repeat a placeholder'),
    ({'instruction': 'x', 'extra_keys': ['c', 'c']}, 'list each extra key once'),
    ({'instruction': 'x', 'system': ['s']}, 'the system text is a list'),
])
def test_bad_constructor_arguments(kwargs, match):
    with pytest.raises(InputError, match=match):
        ChatPrompter(**kwargs)


def test_prompter_is_immutable_and_its_outputs_are_independent():
    p = ChatPrompter('S', history=[{'role': 'user', 'content': 'a'}])
    with pytest.raises(AttributeError, match='immutable'):
        p.instruction = 'other'
    first = p.generate_prompt('x')
    first['messages'][1]['content'] = 'changed'
    assert p.generate_prompt('x')['messages'][1] == {'role': 'user', 'content': 'a'}
    instruction = {'system': 's'}
    q = ChatPrompter(instruction)
    instruction['system'] = 'changed'
    assert q.generate_prompt()['messages'] == [{'role': 'system', 'content': 's'}]
    assert repr(q) == "ChatPrompter({'system': 's'})"


def test_thread_safety():
    p = ChatPrompter('You are {who}.')
    results, errors = [], []

    def work(i):
        try:
            results.append(p.generate_prompt({'who': f'n{i}', 'input': str(i)}) == {
                'messages': [{'role': 'system', 'content': f'You are n{i}.'},
                             {'role': 'user', 'content': str(i)}]})
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and results == [True] * 32


def test_package_exports():
    assert lazyllm.prompt.__all__ == ['PrompterBase', 'ChatPrompter', 'AlpacaPrompter',
                                      'CHAT_TEMPLATES', 'chat_template', 'render']
