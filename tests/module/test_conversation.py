"""Conversation (issue 10, item 2): history within the model's context, oldest turns dropped
and reported, the system prompt kept; built-in chat templates for models without one."""
from __future__ import annotations

import json
import shutil

import pytest

import lazyllm
from lazyllm.errors import InputError
from lazyllm.module._conversation import Conversation, estimate_tokens
from lazyllm.prompt import CHAT_TEMPLATES, chat_template, render
from tests.servers.openai_server import OpenAIServer

GREEDY = dict(temperature=0, max_tokens=4)


def test_the_local_counter_counts_what_the_engine_counts(tiny_llm):
    conv = Conversation(tiny_llm, system='You are terse.')
    messages = conv.history + [{'role': 'user', 'content': 'How many tokens is this?'}]
    assert conv.count(messages) == tiny_llm.chat(messages[-1]['content'], history=messages[:-1],
                                                 **GREEDY).usage['prompt_tokens']


def test_oldest_turns_are_dropped_to_fit_and_the_system_prompt_stays(tiny_llm):
    probe = Conversation(tiny_llm, system='You are terse.')
    one_turn = probe.count(probe.history + [{'role': 'user', 'content': 'turn 0 ' * 5},
                                            {'role': 'assistant', 'content': 'x y z w'}])
    conv = Conversation(tiny_llm, system='You are terse.', max_context_length=2 * one_turn + 8,
                        reserve=4)
    for i in range(5):
        conv(f'turn {i} ' * 5, **GREEDY)
        assert conv.count(conv.history) <= 2 * one_turn + 8
    assert conv.history[0] == {'role': 'system', 'content': 'You are terse.'}
    assert conv.dropped and conv.dropped[0]['content'] == 'turn 0 ' * 5
    kept = [m['content'] for m in conv.history if m['role'] == 'user']
    assert kept[-1] == 'turn 4 ' * 5 and 'turn 0 ' * 5 not in kept
    assert len(conv.dropped) + len(conv.turns) == 10     # nothing lost: dropped or kept


def test_a_message_that_cannot_fit_is_refused_and_nothing_is_lost():
    with OpenAIServer() as srv:
        m = lazyllm.OnlineChatModule(base_url=srv.base_url, model='echo-model')
        conv = Conversation(m, system='S', max_context_length=60, reserve=10)
        assert conv('hello there') == 'hello there'
        before = list(conv.turns)
        with pytest.raises(InputError, match='does not fit'):
            conv('word ' * 400)
        assert conv.turns == before and srv.count('/v1/chat/completions') == 1
        # what the server got: the system prompt, the kept turns, the new message
        conv('second')
        sent = srv.requests[-1].json['messages']
        assert sent == [{'role': 'system', 'content': 'S'}, *before,
                        {'role': 'user', 'content': 'second'}]
        assert ''.join(conv.stream('streamed words')) == 'streamed words'
        assert conv.turns[-1] == {'role': 'assistant', 'content': 'streamed words'}


def test_online_models_get_an_estimate_and_the_budget_from_the_supplier_table():
    m = lazyllm.OnlineChatModule(source='openai', model='gpt-4o-mini', api_key='k')
    conv = Conversation(m)
    assert conv.max_context_length == 128_000
    assert conv.count([{'role': 'user', 'content': 'abcdefgh'}]) == estimate_tokens(
        [{'role': 'user', 'content': 'abcdefgh'}]) == 2 + 4 + 2


@pytest.mark.parametrize('kw, said', [
    ({'system': ''}, 'system must be'), ({'max_context_length': 0}, 'positive int'),
    ({'reserve': -1}, 'positive int'), ({'count_tokens': 3}, 'count_tokens'),
])
def test_bad_arguments_are_refused(kw, said):
    with pytest.raises(InputError, match=said):
        Conversation(lambda x: x, **kw)
    with pytest.raises(InputError, match='chat module'):
        Conversation('not a model')


# -- chat templates ---------------------------------------------------------------------------
def test_built_in_templates_render_like_the_tokenizers_own(tiny_llm_path):
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(str(tiny_llm_path))     # a ChatML (Qwen2) template
    messages = [{'role': 'system', 'content': 'Be brief.'}, {'role': 'user', 'content': 'Hi'},
                {'role': 'assistant', 'content': 'Hello.'}, {'role': 'user', 'content': 'Bye'}]
    assert render(messages, 'chatml') == tok.apply_chat_template(messages, tokenize=False,
                                                                 add_generation_prompt=True)
    assert render(messages[1:2], 'qwen').startswith(
        '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n')
    assert render(messages[1:2], 'llama') == (
        '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>'
        '<|start_header_id|>assistant<|end_header_id|>\n\n')
    assert render(messages[:3], 'llama2', add_generation_prompt=False) == \
        '<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello. </s>'
    assert set(CHAT_TEMPLATES) >= {'chatml', 'qwen', 'llama'}
    with pytest.raises(InputError, match='unknown chat template'):
        chat_template('nope')


def test_a_model_without_a_template_is_served_with_a_named_one(tiny_llm_path, tmp_path):
    bare = tmp_path / 'bare-model'
    shutil.copytree(tiny_llm_path, bare)
    (bare / 'chat_template.jinja').unlink(missing_ok=True)
    cfg = json.loads((bare / 'tokenizer_config.json').read_text())
    cfg.pop('chat_template', None)
    (bare / 'tokenizer_config.json').write_text(json.dumps(cfg))
    m = lazyllm.TrainableModule(str(bare)).deploy_method(lazyllm.deploy.transformers)
    with m.start():
        with pytest.raises(lazyllm.errors.OnlineAPIError, match='chatml, qwen, llama'):
            m('hi', **GREEDY)
    m = lazyllm.TrainableModule(str(bare)).deploy_method(lazyllm.deploy.transformers,
                                                         chat_template='chatml')
    with m.start():
        result = m.chat('hi', **GREEDY)
        conv = Conversation(m)
        messages = [{'role': 'user', 'content': 'hi'}]
        assert result.usage['prompt_tokens'] == conv.count(messages)   # chatml on both sides
