"""What a chat module does with its prompt: LazyLLM's defaults (a ChatPrompter without a
prompt, an EmptyPrompter after ``prompt(None)``), checked on the requests a module sends."""
from __future__ import annotations

import pytest

import lazyllm
from lazyllm.errors import InputError, PromptError
from lazyllm.prompt import ChatPrompter, EmptyPrompter
from tests.servers.openai_server import OpenAIServer

KEY = 'sk-prompt-defaults-0123456789'


@pytest.fixture
def server():
    with OpenAIServer(api_key=KEY) as srv:
        yield srv


@pytest.fixture
def chat(server):
    return lazyllm.OnlineChatModule(source='openai', model='gpt-test', base_url=server.base_url,
                                    api_key=KEY)


def sent(server):
    return server.requests[-1].json['messages']


def test_a_module_without_a_prompt_has_an_empty_chat_prompter(chat, server):
    assert type(chat._prompter) is ChatPrompter and chat._prompter.instruction is None
    chat('hello')
    assert sent(server) == [{'role': 'user', 'content': 'hello'}]
    chat({'context': 'the-input'})      # a dict's one key is the user input
    assert sent(server) == [{'role': 'user', 'content': 'the-input'}]


def test_prompt_none_is_an_empty_prompter(chat, server):
    assert chat.prompt('Be kind.').prompt(None) is chat
    assert isinstance(chat._prompter, EmptyPrompter)
    chat('hi', history=[['q', 'a']])
    assert sent(server) == [{'role': 'user', 'content': 'q'},
                            {'role': 'assistant', 'content': 'a'},
                            {'role': 'user', 'content': 'hi'}]
    with pytest.raises(PromptError, match='has no placeholders to fill'):
        chat({'context': 'c'})
    assert isinstance(chat.prompt()._prompter, EmptyPrompter)


def test_a_str_prompt_with_one_placeholder_is_filled_by_a_str_input(chat, server):
    chat.prompt('Translate to French: {text}')
    chat('cat')
    assert sent(server) == [{'role': 'system', 'content': 'Translate to French: cat'},
                            {'role': 'user', 'content': ''}]


def test_prompt_history_becomes_few_shot_turns(chat, server):
    chat.prompt({'system': 'Add.'}, history=[['1+1', '2']])
    chat('2+2')
    assert sent(server) == [{'role': 'system', 'content': 'Add.'},
                            {'role': 'user', 'content': '1+1'},
                            {'role': 'assistant', 'content': '2'},
                            {'role': 'user', 'content': '2+2'}]


def test_the_system_text_is_sent_without_the_layouts_trailing_blank_lines(chat, server):
    chat.prompt(ChatPrompter('Use it.', extra_keys='ctx'))
    assert chat._prompter.generate_prompt({'ctx': 'c'}, format='openai')['messages'][0][
        'content'].endswith('### ctx:\nc\n\n\n')
    chat({'ctx': 'c', 'q': 'why'})
    assert sent(server)[0]['content'].endswith('### ctx:\nc')


def test_constructor_prompt_is_a_chat_prompter(server):
    m = lazyllm.OnlineChatModule(source='openai', model='gpt-test', base_url=server.base_url,
                                 api_key=KEY, prompt='Sys.')
    m('x')
    assert sent(server)[0] == {'role': 'system', 'content': 'Sys.'}


@pytest.mark.parametrize('args, match', [
    ((None, [['q', 'a']]), 'history= goes into a ChatPrompter'),
    ((EmptyPrompter(), [['q', 'a']]), 'history= goes into a ChatPrompter'),
    ((lazyllm.Prompter('x {a}'),), 'builds one text string'),
    ((3,), 'prompt must be None, a str, a dict or a prompter'),
])
def test_bad_prompt_arguments(chat, args, match):
    with pytest.raises(InputError, match=match):
        chat.prompt(*args)


def test_shares_keep_their_own_prompter(chat, server):
    chat.prompt('Parent.')
    plain = chat.share()
    assert plain._prompter is chat._prompter
    empty = chat.share().prompt(None)
    own = chat.share(prompt='Child.')
    empty('a')
    assert sent(server) == [{'role': 'user', 'content': 'a'}]
    own('b')
    assert sent(server)[0] == {'role': 'system', 'content': 'Child.'}
    chat('c')
    assert sent(server)[0] == {'role': 'system', 'content': 'Parent.'}


def test_trainable_module_defaults_without_an_engine(tmp_path):
    m = lazyllm.TrainableModule(str(tmp_path / 'no-model-needed'))   # constructors do no I/O
    assert type(m._prompter) is ChatPrompter
    messages, _ = m._request('hi', {})
    assert messages == [{'role': 'user', 'content': 'hi'}]
    m.prompt(None)
    assert isinstance(m._prompter, EmptyPrompter)
    assert m._request('hi', {'history': [['q', 'a']]})[0][-1] == {'role': 'user',
                                                                    'content': 'hi'}
    m.prompt('Be {mood}.', history=[['q', 'a']])
    assert m._request('calm', {})[0] == [{'role': 'system', 'content': 'Be calm.'},
                                          {'role': 'user', 'content': 'q'},
                                          {'role': 'assistant', 'content': 'a'},
                                          {'role': 'user', 'content': ''}]
    view = m.share()
    view.prompt(None)
    assert isinstance(view._prompter, EmptyPrompter) and isinstance(m._prompter, ChatPrompter)
