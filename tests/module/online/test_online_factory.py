"""OnlineModule routes (model, source, type) to the module of the call type."""
from __future__ import annotations

import pytest

import lazyllm
from lazyllm.errors import InputError
from lazyllm.module.online import (
    CALL_TYPES,
    OnlineChatModule,
    OnlineEmbeddingModule,
    OnlineModule,
    OnlineMultiModalModule,
)
from lazyllm.module.online._factory import ROUTES


@pytest.fixture(autouse=True)
def qwen_key(monkeypatch):
    monkeypatch.setenv('LAZYLLM_QWEN_API_KEY', 'sk-qwen-factory-1')
    monkeypatch.setenv('LAZYLLM_OPENAI_API_KEY', 'sk-openai-factory-2')


def test_every_call_type_has_a_route():
    assert set(ROUTES) == set(CALL_TYPES)


@pytest.mark.parametrize('kwargs, cls, type_', [
    (dict(source='qwen', model='qwen-plus'), OnlineChatModule, 'llm'),
    (dict(source='qwen', type='vlm'), OnlineChatModule, 'vlm'),
    (dict(source='qwen', type='embed'), OnlineEmbeddingModule, 'embed'),
    (dict(source='qwen', model='text-embedding-v3'), OnlineEmbeddingModule, 'embed'),
    (dict(source='qwen', model='gte-rerank-v2'), OnlineEmbeddingModule, 'rerank'),
    (dict(source='qwen', type='cross_modal_embed'), OnlineEmbeddingModule, 'cross_modal_embed'),
    (dict(source='qwen', type='stt', model='qwen-audio-turbo'), OnlineMultiModalModule, 'stt'),
    (dict(source='openai', model='whisper-1'), OnlineMultiModalModule, 'stt'),
    (dict(source='openai', type='tts'), OnlineMultiModalModule, 'tts'),
    (dict(source='openai', type='sd'), OnlineMultiModalModule, 'text2image'),
    (dict(source='openai', type='image_editing'), OnlineMultiModalModule, 'image_editing'),
])
def test_routes(kwargs, cls, type_):
    m = OnlineModule(**kwargs)            # the module of the call type itself
    assert type(m) is cls and m.type == type_
    assert isinstance(m, OnlineModule) and isinstance(m, lazyllm.ModuleBase)


def test_explicit_type_wins_over_the_name():
    assert OnlineModule(source='qwen', model='my-embedding-chat', type='llm').type == 'llm'


def test_url_is_the_base_url_of_chat_and_embeddings():
    chat = OnlineModule(url='http://127.0.0.1:8001/v1')
    emb = OnlineModule(url='http://127.0.0.1:8002', type='embed')
    assert chat.base_url == 'http://127.0.0.1:8001/v1/'
    assert emb.base_url == 'http://127.0.0.1:8002/v1/'


def test_attributes_and_stream_reach_the_routed_module():
    m = OnlineModule(source='qwen', stream=True, temperature=0.3)
    assert m.model == 'qwen-plus' and m.source == 'qwen'
    assert m.stream_options.enabled
    assert m.usage == {'requests': 0, 'prompt_tokens': 0, 'completion_tokens': 0,
                       'total_tokens': 0}
    assert 'qwen-plus' in repr(m) and 'sk-qwen' not in repr(m)


@pytest.mark.parametrize('kwargs, words', [
    (dict(source='qwen', type='embed', temperature=0.1), "takes no keyword(s) ['temperature']"),
    (dict(source='qwen', colour='red'), "takes no keyword(s) ['colour']"),
    (dict(source='qwen', type=3), 'must be an online call type'),
    (dict(source='qwen', type='embed', function='llm'), 'pass one of them'),
    (dict(url='http://a:1', base_url='http://b:2'), 'pass one of them'),
])
def test_bad_arguments(kwargs, words):
    with pytest.raises(InputError) as e:
        OnlineModule(**kwargs)
    assert words in str(e.value)


def test_construction_does_no_io():
    # nothing listens at this address: building the module must not notice
    m = OnlineModule(url='http://127.0.0.1:9/v1/', type='embed')
    assert m.base_url == 'http://127.0.0.1:9/v1/'
