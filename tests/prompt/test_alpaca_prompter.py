import pytest

from lazyllm.errors import PromptError
from lazyllm.prompt import AlpacaPrompter

PRE = ('Below is an instruction that describes a task, paired with extra messages such as '
       'input that provides further context if possible. Write a response that appropriately '
       'completes the request.\n\n### Instruction:\n')


def test_the_one_placeholder_is_filled_and_the_user_turn_is_empty():
    p = AlpacaPrompter('Add: {instruction}')
    assert p.generate_prompt('a+b') == PRE + 'Add: a+b\n\n\n\n### Response:\n'
    assert p.generate_prompt('a+b', format='openai') == {'messages': [
        {'role': 'system', 'content': PRE + 'Add: a+b\n\n'}, {'role': 'user', 'content': ''}]}


def test_extra_keys_follow_the_instruction():
    p = AlpacaPrompter('Add.', extra_keys='input')
    assert p.generate_prompt('a+b') == (
        PRE + 'Add.\n\nHere are some extra messages you can referred to:\n\n### input:\na+b'
        '\n\n\n\n### Response:\n')


def test_user_part_of_a_dict_instruction_goes_before_the_response_cue():
    p = AlpacaPrompter({'system': 'Add.', 'user': 'Numbers: {instruction}'})
    assert p.generate_prompt('1+2') == PRE + 'Add.\n\nNumbers: 1+2### Response:\n'
    assert p.generate_prompt('1+2', format='openai')['messages'] == [
        {'role': 'system', 'content': PRE + 'Add.'}, {'role': 'user', 'content': 'Numbers: 1+2'}]


def test_system_keyword_comes_first():
    p = AlpacaPrompter('Do {x}.', system='Be exact.')
    assert p.generate_prompt('it').startswith('Be exact.\n' + PRE + 'Do it.')
    assert p.generate_prompt('it', format='openai')['messages'][0]['content'].startswith(
        'Be exact.\n' + PRE)


def test_placeholders_and_extra_keys_from_a_dict():
    p = AlpacaPrompter({'user': 'Context {context}, question {input}'})
    got = p.generate_prompt({'context': 'rain', 'input': 'umbrella?'})
    assert got == PRE + '\n\nContext rain, question umbrella?### Response:\n'


def test_a_loose_input_or_history_has_no_place():
    with pytest.raises(PromptError, match=r"no place for an input .* extra_keys=\['input'\]"):
        AlpacaPrompter('Name a colour.').generate_prompt('x')
    with pytest.raises(PromptError, match='takes no history'):
        AlpacaPrompter('Add {x}').generate_prompt('1', history=[['a', 'b']])
    with pytest.raises(PromptError, match='takes no history'):
        AlpacaPrompter('Add {x}', history=[['a', 'b']]).generate_prompt('1', format='openai')


def test_get_response_splits_on_the_response_cue():
    p = AlpacaPrompter('x')
    assert p.get_response('prompt ### Response:\n the answer') == '\n the answer'
