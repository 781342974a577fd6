import pytest

from lazyllm.errors import InputError, PromptError
from lazyllm.prompt import EmptyPrompter, PrompterBase


def test_text_passes_the_input_through_unchanged():
    p = EmptyPrompter()
    assert isinstance(p, PrompterBase)
    assert p.generate_prompt('Hello') == 'Hello'
    assert p.generate_prompt({'query': 'q'}) == {'query': 'q'}
    assert p.generate_prompt('Q', label='A') == 'QA'
    assert repr(p) == 'EmptyPrompter()'


def test_openai_makes_the_input_the_user_turn_after_the_history():
    p = EmptyPrompter()
    assert p.generate_prompt('hi', [['q', 'a']], format='openai') == {'messages': [
        {'role': 'user', 'content': 'q'}, {'role': 'assistant', 'content': 'a'},
        {'role': 'user', 'content': 'hi'}]}
    assert p.generate_prompt({'role': 'tool', 'tool_call_id': 'c', 'content': '1'},
                             return_dict=True)['messages'][0]['role'] == 'tool'
    parts = [{'type': 'text', 'text': 'x'}]
    assert p.generate_prompt(parts, format='openai')['messages'] == [
        {'role': 'user', 'content': parts}]
    assert p.generate_prompt(None, format='openai') == {'messages': []}
    tool = {'type': 'function', 'function': {'name': 'f'}}
    assert p.generate_prompt('x', tools=[tool], format='openai')['tools'] == [tool]


def test_what_an_empty_prompter_cannot_do_is_an_error():
    p = EmptyPrompter()
    with pytest.raises(PromptError, match='has no placeholders to fill, so a dict input'):
        p.generate_prompt({'context': 'c'}, format='openai')
    with pytest.raises(PromptError, match='no place for history or tools'):
        p.generate_prompt('x', [['q', 'a']])
    with pytest.raises(InputError, match='takes no chat_template'):
        p.generate_prompt('x', chat_template=lambda m: '')
    with pytest.raises(InputError, match='label is appended to a str input'):
        p.generate_prompt({'a': 1}, label='x')
    with pytest.raises(PromptError, match="has role 'bot'"):
        p.generate_prompt({'role': 'bot', 'content': 'x'}, format='openai')
