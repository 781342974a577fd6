"""OnlineChatModule / OnlineEmbeddingModule on lazyllm's own deployments: the online path
(``source='openai', base_url=…``) answers exactly what the TrainableModule answers."""
from __future__ import annotations

import lazyllm


def test_chat_and_stream_equal_the_trainable_module(tiny_llm):
    online = lazyllm.OnlineChatModule(source='openai', base_url=tiny_llm.url)
    greedy = dict(temperature=0, max_tokens=8)
    expected = tiny_llm('hello there', **greedy)
    assert online('hello there', **greedy) == expected
    assert ''.join(online.stream('hello there', **greedy)) == expected
    assert online.usage['requests'] == 2 and online.usage['completion_tokens'] > 0


def test_the_factory_and_a_url_without_v1_reach_the_same_engine(tiny_llm):
    root = tiny_llm.url.rsplit('/v1', 1)[0]
    online = lazyllm.OnlineModule(url=root, source='openai')
    assert type(online) is lazyllm.OnlineChatModule
    assert online('hi', temperature=0, max_tokens=4) == tiny_llm('hi', temperature=0,
                                                                 max_tokens=4)


def test_embeddings_equal_and_keep_order_across_batches(emb):
    online = lazyllm.OnlineEmbeddingModule(embed_url=emb.url, batch_size=2)
    texts = [f'sentence number {i}' for i in range(5)]
    expected = emb(texts)
    got = online(texts)
    assert len(got) == 5
    for a, b in zip(got, expected):
        assert max(abs(x - y) for x, y in zip(a, b)) < 1e-5
    assert online.usage['requests'] == 3      # 2 + 2 + 1


def test_rerank_equals_the_trainable_module(rr):
    online = lazyllm.OnlineModule(type='rerank', url=rr.url)
    docs = ['Paris is the capital of France.', 'Bananas are yellow.', 'France is in Europe.']
    expected = rr('What is the capital of France?', documents=docs, top_n=2)
    got = online('What is the capital of France?', documents=docs, top_n=2)
    assert [i for i, _ in got] == [i for i, _ in expected]
    assert all(abs(a - b) < 1e-4 for (_, a), (_, b) in zip(got, expected))
