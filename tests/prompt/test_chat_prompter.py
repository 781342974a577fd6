import threading

import pytest

import lazyllm.prompt
from lazyllm.errors import InputError, PromptError
from lazyllm.prompt import ChatPrompter


def msgs(prompter, *args, **kw):
    return prompter.generate_prompt(*args, format='openai', **kw)['messages']


def test_the_default_result_is_a_string_and_openai_gives_messages():
    p = ChatPrompter('Be brief.')
    assert isinstance(p.generate_prompt('why?'), str)
    assert p.generate_prompt('why?', format='openai') == {'messages': [
        {'role': 'system', 'content': 'Be brief.\n\n'}, {'role': 'user', 'content': 'why?'}]}


def test_return_dict_is_lazyllms_name_for_openai():
    p = ChatPrompter('Sum {x}')
    assert p.generate_prompt('1+1', return_dict=True) == p.generate_prompt('1+1', format='openai')
    with pytest.raises(InputError, match="pass only one"):
        p.generate_prompt('1+1', return_dict=True, format='text')
    with pytest.raises(InputError, match='return_dict=1'):
        p.generate_prompt('1+1', return_dict=1)


def test_a_str_fills_the_only_placeholder_whatever_its_name():
    p = ChatPrompter('Add these: {instruction}')
    assert msgs(p, 'a+b') == [{'role': 'system', 'content': 'Add these: a+b\n\n'},
                              {'role': 'user', 'content': ''}]
    assert p.generate_prompt('a+b') == 'Add these: a+b\n\n\n\n\n\n\n\n'


def test_a_str_is_the_user_input_when_there_is_no_placeholder():
    assert msgs(ChatPrompter(), 'hello') == [{'role': 'user', 'content': 'hello'}]
    assert ChatPrompter().generate_prompt('hello') == '\n\n\n\nhello\n\n'


def test_an_int_input_is_written_as_text():
    assert msgs(ChatPrompter('n={n}'), 3)[0]['content'] == 'n=3\n\n'


def test_a_str_cannot_fill_several_keys():
    with pytest.raises(PromptError, match=r"has 2 \(\{a\}, \{b\}\): pass a dict input with keys "
                                          r"'a', 'b'"):
        ChatPrompter('{a} and {b}').generate_prompt('x')
    with pytest.raises(PromptError, match=r"\{role\}, \{context\}"):
        ChatPrompter('You are a {role}.', extra_keys='context').generate_prompt('x')
    p = ChatPrompter('You are a {role}.', extra_keys='context')
    assert p.keys == ('role', 'context') and p.placeholders == ('role',)
    assert p.extra_keys == ('context',)


def test_extra_keys_as_a_str_or_a_list_follow_the_instruction():
    one = ChatPrompter('Add.', extra_keys='input')
    assert msgs(one, 'a+b')[0]['content'] == (
        'Add.\nHere are some extra messages you can referred to:\n\n### input:\na+b\n\n\n')
    two = ChatPrompter('Answer.', extra_keys=['b', 'a'])
    got = msgs(two, {'a': {'x': 1}, 'b': [1, 2], 'query': 'q'})
    assert got == [
        {'role': 'system', 'content': 'Answer.\nHere are some extra messages you can referred '
                                      'to:\n\n### b:\n[1, 2]\n\n### a:\n{"x": 1}\n\n\n'},
        {'role': 'user', 'content': 'q'}]


def test_the_one_leftover_dict_key_is_the_user_input_whatever_its_name():
    # LazyLLM's RAG idiom: dict(context_str=..., query=...) with extra_keys=['context_str']
    p = ChatPrompter('Use the context.', extra_keys=['context_str'])
    got = msgs(p, {'context_str': 'sky is blue', 'query': 'what colour?'})
    assert got[-1] == {'role': 'user', 'content': 'what colour?'}
    assert msgs(ChatPrompter('You are a {role}.'), {'role': 'poet'})[-1] == {
        'role': 'user', 'content': ''}


def test_two_leftover_keys_are_an_error_not_a_guess():
    with pytest.raises(PromptError, match=r"keys 'query', 'qeury' that fill no placeholder"):
        ChatPrompter('x').generate_prompt({'query': 'a', 'qeury': 'b'})


def test_a_missing_key_is_an_error_naming_the_dict_other_keys():
    with pytest.raises(PromptError) as e:
        ChatPrompter('You are a {role}.').generate_prompt({'rol': 'poet', 'input': 'hi'})
    msg = str(e.value)
    assert "placeholder {role} in the instruction has no value" in msg
    assert "(the dict's other keys: 'rol', 'input')" in msg
    assert "add key 'role' to the input dict" in msg
    with pytest.raises(PromptError, match=r"extra key\(s\) 'context' have no value"):
        ChatPrompter('x', extra_keys=['context']).generate_prompt({'input': 'hi'})


def test_none_input_gives_no_user_turn_and_needs_no_keys():
    p = ChatPrompter('S', history=[{'role': 'tool', 'tool_call_id': 'c', 'content': '4'}])
    assert msgs(p) == [{'role': 'system', 'content': 'S\n\n'},
                       {'role': 'tool', 'tool_call_id': 'c', 'content': '4'}]
    with pytest.raises(PromptError, match=r'\{x\} in the instruction has no value: pass a dict'):
        ChatPrompter('{x}').generate_prompt()


def test_a_dict_instruction_puts_its_user_text_before_the_input():
    p = ChatPrompter({'system': 'Add numbers.', 'user': 'Numbers: {instruction}'})
    assert msgs(p, '1+2') == [{'role': 'system', 'content': 'Add numbers.'},
                              {'role': 'user', 'content': 'Numbers: 1+2'}]
    prefix = ChatPrompter({'user': 'Question: '})
    assert msgs(prefix, 'why?') == [{'role': 'user', 'content': 'Question: why?'}]
    assert p.placeholders == ('instruction',)


def test_a_dict_instruction_keeps_its_extra_keys():
    p = ChatPrompter({'system': 'Sys.', 'user': 'Q: '}, extra_keys=['ctx'])
    assert msgs(p, {'ctx': 'c', 'q': 'why'}) == [
        {'role': 'system', 'content': 'Sys.\nHere are some extra messages you can referred '
                                      'to:\n\n### ctx:\nc\n\n'},
        {'role': 'user', 'content': 'Q: why'}]


def test_system_keyword_is_a_template_put_before_the_instruction():
    p = ChatPrompter('Task: {task}', system='You are {name}.')
    got = msgs(p, {'task': 'sum', 'name': 'Ada', 'input': '1+1'})
    assert got[0] == {'role': 'system', 'content': 'You are Ada.\nTask: sum\n\n'}
    assert msgs(ChatPrompter(system='Only me.'), 'hi')[0] == {'role': 'system',
                                                               'content': 'Only me.'}


def test_no_vendor_system_prompt_and_no_empty_system_message():
    assert msgs(ChatPrompter(''), 'x') == msgs(ChatPrompter(None), 'x') == [
        {'role': 'user', 'content': 'x'}]


def test_multimodal_user_content_is_kept_as_parts():
    parts = [{'type': 'text', 'text': 'what is this?'},
             {'type': 'image_url', 'image_url': {'url': 'data:image/png;base64,AA=='}}]
    assert msgs(ChatPrompter(), {'input': parts}) == [{'role': 'user', 'content': parts}]
    got = msgs(ChatPrompter({'user': 'Look: '}), {'input': parts})
    assert got[0]['content'][0] == {'type': 'text', 'text': 'Look: '}
    with pytest.raises(PromptError, match="'image_url' part.*format='openai'"):
        ChatPrompter().generate_prompt({'input': parts})


def test_tools_come_with_the_messages_and_a_call_may_replace_them():
    tool = {'type': 'function', 'function': {'name': 'add', 'parameters': {'type': 'object'}}}
    p = ChatPrompter('Use tools.', tools=[tool])
    assert p.generate_prompt('1+1', format='openai')['tools'] == [tool]
    assert 'tools' not in ChatPrompter().generate_prompt('1+1', format='openai')
    other = {'function': {'name': 'mul'}}
    assert p.generate_prompt('2*2', tools=[other], format='openai')['tools'] == [
        {'type': 'function', 'function': {'name': 'mul'}}]
    assert 'tools' not in p.generate_prompt('x', tools=[], format='openai')


@pytest.mark.parametrize('tools', ['add', [{'type': 'function'}], [{'function': {'name': ''}}],
                                   [{'type': 'retrieval', 'function': {'name': 'f'}}]])
def test_bad_tools(tools):
    with pytest.raises(PromptError, match='OpenAI tool dict|list of tool dicts'):
        ChatPrompter().generate_prompt('x', tools=tools)


def test_input_of_a_wrong_type():
    with pytest.raises(PromptError, match='input is a float: pass a str'):
        ChatPrompter().generate_prompt(3.5)
    with pytest.raises(PromptError, match='input is a bool'):
        ChatPrompter('{x}').generate_prompt(True)


def test_unknown_format_lists_the_valid_ones():
    with pytest.raises(InputError, match=r"format='xml' .* \('openai', 'text', None\)"):
        ChatPrompter().generate_prompt('x', format='xml')


@pytest.mark.parametrize('kwargs, match', [
    ({'instruction': 3}, 'instruction is a int'),
    ({'instruction': {'sys': 'x'}}, "key\\(s\\) 'sys': use only 'system'"),
    ({'instruction': {'user': 5}}, r"instruction\['user'\] is a int"),
    ({'instruction': 'x', 'extra_keys': 5}, 'pass a str or a list of distinct'),
    ({'instruction': 'x', 'extra_keys': [1]}, 'pass a str or a list of distinct'),
    ({'instruction': 'x', 'extra_keys': ['c', 'c']}, 'pass a str or a list of distinct'),
    ({'instruction': '{a}', 'extra_keys': ['a']}, "extra_keys 'a' are also"),
    ({'instruction': 'x', 'system': ['s']}, 'the system text is a list'),
    ({'instruction': 'x', 'show': 'yes'}, "show='yes'"),
])
def test_bad_constructor_arguments(kwargs, match):
    with pytest.raises(InputError, match=match):
        ChatPrompter(**kwargs)


def test_lazyllm_positional_order_instruction_extra_keys_show_tools_history():
    tool = {'function': {'name': 'f'}}
    p = ChatPrompter('S', ['k'], False, [tool], [['q', 'a']])
    got = p.generate_prompt({'k': 'v', 'input': 'u'}, format='openai')
    assert got['tools'][0]['function'] == {'name': 'f'}
    assert got['messages'][1:3] == [{'role': 'user', 'content': 'q'},
                                    {'role': 'assistant', 'content': 'a'}]


def test_show_logs_the_prompt(caplog):
    with caplog.at_level('INFO', logger='lazyllm'):
        ChatPrompter('S').generate_prompt('hi', show=True)
        ChatPrompter('T', show=True).generate_prompt('yo')
    assert "prompt: 'S\\n\\n" in caplog.text and "prompt: 'T\\n\\n" in caplog.text


def test_prompter_is_immutable_and_its_outputs_are_independent():
    p = ChatPrompter('S', history=[{'role': 'user', 'content': 'a'}])
    with pytest.raises(AttributeError, match='immutable'):
        p.instruction = 'other'
    first = msgs(p, 'x')
    first[1]['content'] = 'changed'
    assert msgs(p, 'x')[1] == {'role': 'user', 'content': 'a'}
    instruction = {'system': 's'}
    q = ChatPrompter(instruction)
    instruction['system'] = 'changed'
    assert msgs(q) == [{'role': 'system', 'content': 's'}]
    assert repr(q) == "ChatPrompter({'system': 's'})"
    given = {'x': ['a']}
    ChatPrompter('{x}').generate_prompt(given)
    assert given == {'x': ['a']}


def test_thread_safety():
    p = ChatPrompter('You are {who}.')
    results, errors = [], []

    def work(i):
        try:
            results.append(msgs(p, {'who': f'n{i}', 'input': str(i)}) == [
                {'role': 'system', 'content': f'You are n{i}.\n\n'},
                {'role': 'user', 'content': str(i)}])
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
                                      'EmptyPrompter', 'Prompter', 'CHAT_TEMPLATES',
                                      'chat_template', 'render']
    assert lazyllm.Prompter is lazyllm.prompt.Prompter
