import pytest

from lazyllm.errors import PromptError
from lazyllm.prompt import AlpacaPrompter

WITH_INPUT = ('Below is an instruction that describes a task, paired with an input that provides '
              'further context. Write a response that appropriately completes the request.\n\n')
NO_INPUT = ('Below is an instruction that describes a task. Write a response that '
            'appropriately completes the request.\n\n')


def test_classic_alpaca_text_with_input():
    p = AlpacaPrompter('Translate to {lang}.')
    got = p.generate_prompt({'lang': 'French', 'input': 'cat'}, format=None)
    assert got == (WITH_INPUT + '### Instruction:\nTranslate to French.\n\n'
                   '### Input:\ncat\n\n### Response:\n')


def test_classic_alpaca_text_without_input():
    got = AlpacaPrompter('Name a colour.').generate_prompt(format=None)
    assert got == NO_INPUT + '### Instruction:\nName a colour.\n\n### Response:\n'


def test_openai_format_is_instruction_as_system_and_input_as_user():
    p = AlpacaPrompter('Summarize for {who}.', extra_keys=['context'])
    got = p.generate_prompt({'who': 'kids', 'context': 'ctx', 'input': 'long text'})
    assert got == {'messages': [
        {'role': 'system', 'content': 'Summarize for kids.\n\n### context:\nctx'},
        {'role': 'user', 'content': 'long text'}]}


def test_input_placeholder_and_extra_keys_in_text_layout():
    p = AlpacaPrompter('Answer: {input}', extra_keys=['context'])
    got = p.generate_prompt({'input': 'why?', 'context': 'sky'}, format=None)
    assert got == (NO_INPUT + '### Instruction:\nAnswer: why?\n\n### context:\nsky\n\n'
                   '### Response:\n')


def test_system_keyword_replaces_the_preamble_in_text_and_leads_in_openai():
    p = AlpacaPrompter('Do it.', system='Custom preamble.')
    assert p.generate_prompt('x', format=None) == (
        'Custom preamble.\n\n### Instruction:\nDo it.\n\n### Input:\nx\n\n### Response:\n')
    assert p.generate_prompt('x')['messages'][0] == {
        'role': 'system', 'content': 'Custom preamble.\n\nDo it.'}


def test_history_becomes_earlier_input_response_blocks():
    p = AlpacaPrompter('Add.', history=[['1+1', '2']])
    assert p.generate_prompt('2+2', format=None) == (
        WITH_INPUT + '### Instruction:\nAdd.\n\n### Input:\n1+1\n\n### Response:\n2\n\n'
        '### Input:\n2+2\n\n### Response:\n')


def test_user_template_and_missing_placeholder():
    p = AlpacaPrompter({'system': 'Classify.', 'user': 'Text: {input}'})
    assert p.generate_prompt('good', format=None).endswith(
        '### Input:\nText: good\n\n### Response:\n')
    with pytest.raises(PromptError, match="placeholder {lang} in the instruction has no value"):
        AlpacaPrompter('Translate to {lang}').generate_prompt('x')
