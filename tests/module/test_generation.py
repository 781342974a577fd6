"""The contract every chat module offers (issue 10, item 1): capabilities, agenerate,
astream and batch, on a real local engine and on an OpenAI-compatible server."""
from __future__ import annotations

import asyncio
import json

import pytest

import lazyllm
from lazyllm.errors import InputError, ServerError
from lazyllm.module import BatchItem
from tests.servers.openai_server import OpenAIServer

GREEDY = dict(temperature=0, max_tokens=5)


def test_batch_on_a_local_engine_answers_in_order_with_counts_and_speed(tiny_llm):
    prompts = ['one', 'two words', 'three little words', 'four', 'five', 'six']
    items = tiny_llm.batch(prompts, concurrency=4, **GREEDY)
    assert [i.index for i in items] == list(range(6)) and [i.prompt for i in items] == prompts
    assert [i.text for i in items] == [tiny_llm(p, **GREEDY) for p in prompts]
    for item in items:
        assert item.ok and 0 < item.completion_tokens <= 5 and item.prompt_tokens > 0
        assert item.latency > 0 and item.tokens_per_second == item.completion_tokens / \
            item.latency


def test_agenerate_and_astream_give_the_answer_a_call_gives(tiny_llm):
    async def both():
        text = await tiny_llm.agenerate('hello there', **GREEDY)
        pieces = [p async for p in tiny_llm.astream('hello there', **GREEDY)]
        return text, ''.join(pieces)
    text, streamed = asyncio.run(both())
    assert text == streamed == tiny_llm('hello there', **GREEDY)


def test_local_capabilities_come_from_the_model(tiny_llm, tiny_llm_path, emb):
    config = json.loads((tiny_llm_path / 'config.json').read_text())
    assert tiny_llm.supports_streaming and not tiny_llm.supports_image_input
    assert tiny_llm.max_images_per_request is None
    assert tiny_llm.max_context_length == config['max_position_embeddings']
    assert lazyllm.TrainableModule(str(tiny_llm_path)).max_context_length == \
        config['max_position_embeddings']           # before start: from config.json
    assert emb.supports_streaming is False
    with pytest.raises(InputError, match='chat\\(\\) is for LLMs'):
        emb.batch(['a'])


def test_online_batch_counts_tokens_and_keeps_errors_when_asked():
    with OpenAIServer() as srv:
        m = lazyllm.OnlineChatModule(source='openai', base_url=srv.base_url, api_key='k',
                                     model='echo-model')
        items = m.batch(['a b c', 'd e'], temperature=0)
        assert [i.text for i in items] == ['a b c', 'd e']
        assert [i.completion_tokens for i in items] == [3, 2]
        srv.fail(500, times=None, path='/chat/completions')
        with pytest.raises(ServerError):
            m.batch(['x', 'y'])
        kept = m.batch(['x', 'y'], return_exceptions=True)
        assert [type(i.error) for i in kept] == [ServerError, ServerError]
        assert all(not i.ok and i.text is None for i in kept)


def test_online_capabilities_come_from_the_supplier_and_model_tables():
    gpt = lazyllm.OnlineChatModule(source='openai', model='gpt-4o-mini', api_key='k')
    assert gpt.supports_streaming and gpt.supports_image_input
    assert gpt.max_images_per_request == gpt.supplier.max_images
    assert gpt.max_context_length == 128_000
    assert lazyllm.OnlineChatModule(source='kimi', model='moonshot-v1-32k',
                                    api_key='k').max_context_length == 32 * 1024
    deepseek = lazyllm.OnlineChatModule(source='deepseek', model='deepseek-chat',
                                        api_key='k')
    assert not deepseek.supports_image_input and deepseek.max_images_per_request is None
    unknown = lazyllm.OnlineChatModule(base_url='http://127.0.0.1:9/v1/', model='mine')
    assert unknown.max_context_length is None
    unknown.max_context_length = 4096
    assert unknown.max_context_length == 4096 and unknown.share().max_context_length == 4096
    with pytest.raises(InputError):
        unknown.max_context_length = 0


@pytest.mark.parametrize('prompts, concurrency, said', [
    ('one prompt', 8, 'takes a list of prompts'),
    ([], 8, 'empty list'),
    (['a'], 0, 'concurrency must be'),
    (['a'], True, 'concurrency must be'),
])
def test_batch_checks_its_input(prompts, concurrency, said):
    m = lazyllm.OnlineChatModule(base_url='http://127.0.0.1:9/v1/', model='mine')
    with pytest.raises(InputError, match=said):
        m.batch(prompts, concurrency=concurrency)


def test_batch_item_speed_needs_counts():
    assert BatchItem(0, 'p', text='t', completion_tokens=None, latency=1).tokens_per_second \
        is None
