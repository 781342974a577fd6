"""The built-in transformers LLM engine over real HTTP, on the tiny random Qwen2."""
import concurrent.futures as cf

import httpx
import pytest

from lazyllm.client import Client
from lazyllm.errors import OnlineAPIError

USER = [{'role': 'user', 'content': 'the quick brown fox'}]


@pytest.fixture(scope='module')
def client(tiny_llm):
    with Client(tiny_llm.url) as c:
        yield c


def root(url):
    return url.rsplit('/v1/', 1)[0]


def test_health_and_models(tiny_llm, client):
    assert httpx.get(root(tiny_llm.url) + '/health').json()['status'] == 'ok'
    cards = client.request('GET', 'models')['data']
    assert cards[0]['kind'] == 'llm' and cards[0]['max_model_len'] == 512


def test_chat_greedy_is_deterministic_and_counts_usage(client):
    a = client.chat(USER, temperature=0, max_tokens=6)
    b = client.chat(USER, temperature=0, max_tokens=6)
    assert a.content == b.content and a.content
    assert a.finish_reason == 'length'
    assert a.usage['completion_tokens'] == 6 and a.usage['prompt_tokens'] > 5


def test_stream_joins_to_the_non_stream_answer(client):
    whole = client.chat(USER, temperature=0, max_tokens=12).content
    deltas = list(client.stream_chat(USER, temperature=0, max_tokens=12,
                                     stream_options={'include_usage': True}))
    text = ''.join(d.content or '' for d in deltas)
    assert text == whole
    assert sum(1 for d in deltas if d.content) >= 2
    assert deltas[-1].usage['completion_tokens'] == 12


def test_seeded_sampling_repeats(client):
    a = client.chat(USER, temperature=1.0, top_p=0.9, top_k=50, seed=7, max_tokens=8)
    b = client.chat(USER, temperature=1.0, top_p=0.9, top_k=50, seed=7, max_tokens=8)
    assert a.content == b.content


def test_stop_string_truncates(client):
    whole = client.chat(USER, temperature=0, max_tokens=16).content
    assert len(whole) >= 4, whole
    cut = whole[len(whole) // 2:len(whole) // 2 + 2]     # any 2 characters of the answer
    stopped = client.chat(USER, temperature=0, max_tokens=16, stop=[cut])
    assert stopped.content == whole[:whole.index(cut)]
    assert stopped.finish_reason == 'stop'


def test_completions_with_several_prompts(client):
    out = client.request('POST', 'completions', json={'prompt': ['the fox', 'a dog'],
                                                       'max_tokens': 3, 'temperature': 0})
    assert [c['index'] for c in out['choices']] == [0, 1]
    assert out['usage']['completion_tokens'] == 6


def test_context_overflow_is_an_error_with_numbers(client):
    with pytest.raises(OnlineAPIError) as info:
        client.chat(USER, max_tokens=5000)
    assert info.value.status == 400
    assert "more than the model's context of 512 tokens" in str(info.value)
    long = [{'role': 'user', 'content': 'fox ' * 2000}]
    with pytest.raises(OnlineAPIError, match="context is 512 tokens"):
        client.chat(long, max_tokens=1)


@pytest.mark.parametrize('params, message', [
    ({'temperature': 5}, 'temperature must be from 0 to 2'),
    ({'n': 2}, 'n=2 is not supported'),
    ({'stop': [1]}, 'stop must be'),
    ({'max_tokens': 0}, 'max_tokens must be a positive int'),
])
def test_bad_parameters_are_400(client, params, message):
    with pytest.raises(OnlineAPIError, match=message) as info:
        client.chat(USER, **params)
    assert info.value.status == 400


def test_concurrent_requests_are_batched(tiny_llm, client):
    before = httpx.get(root(tiny_llm.url) + '/stats').json()
    prompts = [[{'role': 'user', 'content': f'fox number {i}'}] for i in range(8)]
    with cf.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda m: client.chat(m, temperature=0, max_tokens=24), prompts))
    solo = [client.chat(m, temperature=0, max_tokens=24).content for m in prompts[:3]]
    assert [a.content for a in answers[:3]] == solo       # batching does not change answers
    after = httpx.get(root(tiny_llm.url) + '/stats').json()
    assert after['requests'] - before['requests'] == 11
    assert after['max_batch'] >= 2
    assert after['batches'] - before['batches'] < 11


def test_request_bodies_are_logged_when_asked(tiny_llm, client):
    client.chat([{'role': 'user', 'content': 'marker-4711'}], max_tokens=1)
    assert 'marker-4711' in tiny_llm.deployment.job.logs(50)
