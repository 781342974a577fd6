import json

import pytest

import lazyllm
from lazyllm.errors import InputError, PromptError
from lazyllm.prompt import Prompter
from lazyllm.prompt._generic import TEMPLATES


def test_a_plain_value_fills_the_one_placeholder():
    p = lazyllm.Prompter(prompt='hello <{input}>')
    assert not p._is_empty() and not p.is_empty()
    assert p.generate_prompt('123') == 'hello <123>'
    assert p.generate_prompt({'input': '123'}) == 'hello <123>'
    assert p.generate_prompt(7) == 'hello <7>'


def test_a_dataset_row_may_carry_other_columns_but_not_miss_a_key():
    p = Prompter('Q: {question}\nA:')
    assert p.generate_prompt({'question': 'why', 'output': 'because'}) == 'Q: why\nA:'
    with pytest.raises(PromptError, match=r"no value for \['question'\]"):
        p.generate_prompt({'questoin': 'why'})
    with pytest.raises(PromptError, match=r'the prompt has 2 \(a, b\): pass a dict'):
        Prompter('{a}{b}').generate_prompt('x')


def test_alpaca_template_and_label_and_response_split():
    p = Prompter.from_template('alpaca')
    assert p._prompt == TEMPLATES['alpaca']['prompt']
    text = p.generate_prompt({'instruction': 'ins', 'input': 'inp'}, label='out')
    assert text.endswith('### Instruction:\nins\n\n### Input:\ninp\n\n### Response:\nout')
    assert p.get_response('whatever ### Response: the answer') == ' the answer'
    assert p.get_response('PROMPTanswer', 'PROMPT') == 'answer'
    with pytest.raises(InputError, match="unknown Prompter template 'vicuna': use one of alpaca"):
        Prompter.from_template('vicuna')


def test_empty_prompter_returns_the_input():
    for p in (Prompter(), Prompter.empty()):
        assert p._is_empty()
        assert p.generate_prompt({'a': 1}) == {'a': 1}


def test_history_slot_and_chat_prompt():
    p = Prompter('{llm_chat_history}Q: {q}', eoh='|', eoa=';')
    assert p.use_history
    assert p.generate_prompt('x') == 'Q: x'
    assert p.generate_prompt('x', history=[['a', 'b'], ['c', 'd']]) == 'a|b;c|dQ: x'
    q = Prompter('Q: {q}', chat_prompt='{llm_chat_history}\nQ: {q}', eoh='=', eoa='/')
    assert q.generate_prompt('x') == 'Q: x'
    assert q.generate_prompt('x', history=[['a', 'b']]) == 'a=b\nQ: x'
    with pytest.raises(PromptError, match='no {llm_chat_history} slot'):
        Prompter('Q: {q}').generate_prompt('x', history=[['a', 'b']])
    with pytest.raises(PromptError, match=r'list of \[user, assistant\] str pairs'):
        p.generate_prompt('x', history=['ab'])


def test_json_braces_need_no_escaping():
    assert Prompter('Reply as {"a": 1} to {q}').generate_prompt('x') == 'Reply as {"a": 1} to x'


def test_from_dict_and_from_file(tmp_path):
    path = tmp_path / 't.json'
    path.write_text(json.dumps({'prompt': '<{x}>', 'response_split': '>'}))
    p = Prompter.from_file(str(path))
    assert p.generate_prompt('1') == '<1>' and p.get_response('a>b') == 'b'
    with pytest.raises(InputError, match='cannot read a Prompter template'):
        Prompter.from_file(str(tmp_path / 'missing.json'))
    with pytest.raises(InputError, match=r"unknown key\(s\) \['template'\]"):
        Prompter.from_dict({'template': 'x'})
    with pytest.raises(InputError, match='takes a dict'):
        Prompter.from_dict('x')


@pytest.mark.parametrize('kwargs, match', [
    ({'prompt': 3}, 'prompt is a int'),
    ({'prompt': '{a}', 'chat_prompt': '{b}{llm_chat_history}'}, 'must hold the placeholders'),
    ({'chat_prompt': '{llm_chat_history}'}, 'needs prompt= too'),
])
def test_bad_construction(kwargs, match):
    with pytest.raises(InputError, match=match):
        Prompter(**kwargs)


def test_bad_calls():
    with pytest.raises(InputError, match='no place for tools'):
        Prompter('{a}').generate_prompt('x', tools=[{}])
    with pytest.raises(InputError, match='label is the answer str'):
        Prompter('{a}').generate_prompt('x', label=1)
