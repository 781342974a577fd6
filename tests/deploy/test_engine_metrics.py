"""``GET /metrics`` of the built-in engines: real engine processes (the tiny random Qwen2 on
the LLM engine, all-MiniLM-L6-v2 on the embedding engine) called over HTTP, their page read
with prometheus_client's own parser, and every number checked against what the clients
were answered: request counts by route and status, and token totals equal to the ``usage``
of the answers. Each test compares two scrapes, so what another request did does not count.
"""
from __future__ import annotations

import concurrent.futures as cf
import json

import httpx
import pytest
from starlette.testclient import TestClient

from tests.support.metrics import scrape

USER = [{'role': 'user', 'content': 'the quick brown fox'}]


def root(url: str) -> str:
    return url.rsplit('/v1/', 1)[0]


def post(base: str, path: str, body: dict) -> httpx.Response:
    return httpx.post(base + path, json=body, timeout=120)


@pytest.fixture(scope='module')
def llm(tiny_llm):
    return root(tiny_llm.url)


@pytest.fixture(scope='module')
def embedder(emb):
    return root(emb.url)


def stream_usage(base: str, body: dict) -> dict:
    """The usage chunk of a streamed chat (asked with stream_options.include_usage)."""
    with httpx.stream('POST', base + '/v1/chat/completions', timeout=120, json={
            **body, 'stream': True, 'stream_options': {'include_usage': True}}) as answer:
        assert answer.status_code == 200
        frames = [json.loads(line[6:]) for line in answer.iter_lines()
                  if line.startswith('data: {')]
    assert frames[-1]['choices'] == [] and frames[-1]['usage'], frames[-1]
    return frames[-1]['usage']


def test_llm_counts_requests_statuses_tokens_and_batches(llm):
    before = scrape(llm)
    chats = [{'messages': [{'role': 'user', 'content': f'count to {i}'}], 'temperature': 0,
              'max_tokens': 3 + i} for i in range(4)]
    with cf.ThreadPoolExecutor(4) as pool:       # together: the generator batches them
        answers = list(pool.map(lambda b: post(llm, '/v1/chat/completions', b), chats))
    assert [a.status_code for a in answers] == [200] * 4
    usages = [a.json()['usage'] for a in answers]
    usages.append(stream_usage(llm, {'messages': USER, 'temperature': 0, 'max_tokens': 5}))
    completion = post(llm, '/v1/completions', {'prompt': ['the fox', 'a dog'],
                                               'max_tokens': 4, 'temperature': 0})
    usages.append(completion.json()['usage'])
    refused = post(llm, '/v1/chat/completions', {'messages': USER, 'temperature': 5})
    assert refused.status_code == 400
    assert httpx.get(llm + '/v1/no/such/route', timeout=10).status_code == 404
    after = scrape(llm)
    d = after - before

    assert d.value('lazyllm_requests_total', route='/v1/chat/completions', status='200') == 5
    assert d.value('lazyllm_requests_total', route='/v1/chat/completions', status='400') == 1
    assert d.value('lazyllm_requests_total', route='/v1/completions', status='200') == 1
    assert d.value('lazyllm_requests_total', route='other', status='404') == 1
    assert after.labels('lazyllm_requests_total', 'route') >= {'/v1/chat/completions',
                                                               '/v1/completions', 'other'}
    assert '/v1/no/such/route' not in after.text      # raw paths never become labels
    assert d.value('lazyllm_request_duration_seconds_count',
                   route='/v1/chat/completions') == 6
    assert d.value('lazyllm_request_duration_seconds_sum', route='/v1/chat/completions') > 0

    assert d.value('lazyllm_prompt_tokens_total') == sum(u['prompt_tokens'] for u in usages)
    assert d.value('lazyllm_completion_tokens_total') == \
        sum(u['completion_tokens'] for u in usages) > 0
    rows = 4 + 1 + 2                  # generator requests: 4 chats, 1 stream, 2 prompts
    assert d.value('lazyllm_time_to_first_token_seconds_count') == rows
    assert d.value('lazyllm_batch_size_sum') == rows
    assert 1 <= d.value('lazyllm_batch_size_count') <= rows
    assert after.value('lazyllm_queue_depth') == 0
    assert after.value('process_start_time_seconds') > 0


def test_queue_depth_counts_a_request_while_it_generates(llm):
    """A long stream, read up to its first text: the engine is still generating it."""
    body = {'prompt': 'the fox', 'max_tokens': 200, 'temperature': 0, 'stream': True}
    with httpx.stream('POST', llm + '/v1/completions', json=body, timeout=120) as answer:
        lines = answer.iter_lines()
        for line in lines:
            if line.startswith('data: {') and json.loads(line[6:])['choices'][0]['text']:
                break
        during = scrape(llm).value('lazyllm_queue_depth')
        rest = [line for line in lines if line]
    assert rest[-1] == 'data: [DONE]'
    assert during >= 1
    assert scrape(llm).value('lazyllm_queue_depth') == 0


def test_embed_counts_requests_and_batched_items(embedder):
    before = scrape(embedder)
    bodies = [{'input': ['a cat', 'a dog', 'a fox'][:n]} for n in (1, 2, 3)]
    with cf.ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(lambda b: post(embedder, '/v1/embeddings', b), bodies))
    assert [a.status_code for a in answers] == [200] * 3
    bad = post(embedder, '/v1/embeddings', {'input': 'x', 'encoding_format': 'hex'})
    assert bad.status_code == 400
    after = scrape(embedder)
    d = after - before
    assert d.value('lazyllm_requests_total', route='/v1/embeddings', status='200') == 3
    assert d.value('lazyllm_requests_total', route='/v1/embeddings', status='400') == 1
    assert d.value('lazyllm_batch_size_sum') == 6          # items, not requests
    assert 1 <= d.value('lazyllm_batch_size_count') <= 3
    # an embedding engine generates nothing: no token or first-token metrics at all
    assert 'lazyllm_completion_tokens' not in after.text
    assert 'lazyllm_time_to_first_token' not in after.text


@pytest.fixture(scope='module')
def captioner():
    """The tiny captioning model (tests/support/vlm.py) on the vlm engine."""
    for module in ('torch', 'transformers', 'PIL'):
        pytest.importorskip(module)
    import lazyllm
    from tests.support.vlm import tiny_vlm
    m = lazyllm.TrainableModule(tiny_vlm()).start()
    yield root(m.url)
    m.stop()


def test_vlm_counts_tokens_and_first_tokens(captioner):
    import base64
    import io

    from tests.support.vlm import IMAGE_KINDS, make_image
    png = io.BytesIO()
    make_image(IMAGE_KINDS[0]).save(png, format='PNG')
    url = 'data:image/png;base64,' + base64.b64encode(png.getvalue()).decode()
    body = {'messages': [{'role': 'user', 'content': [
        {'type': 'image_url', 'image_url': {'url': url}}]}], 'temperature': 0, 'max_tokens': 5}
    before = scrape(captioner)
    answer = post(captioner, '/v1/chat/completions', body)
    assert answer.status_code == 200
    usages = [answer.json()['usage'], stream_usage(captioner, body)]
    d = scrape(captioner) - before
    assert d.value('lazyllm_requests_total', route='/v1/chat/completions', status='200') == 2
    assert d.value('lazyllm_completion_tokens_total') == \
        sum(u['completion_tokens'] for u in usages) > 0
    assert d.value('lazyllm_prompt_tokens_total') == sum(u['prompt_tokens'] for u in usages)
    assert d.value('lazyllm_time_to_first_token_seconds_count') == 2
    assert d.after.value('lazyllm_queue_depth') == 0
    assert 'lazyllm_batch_size' not in d.after.text       # one generation at a time


def test_metrics_needs_no_key_and_a_refusal_counts_on_its_route():
    """In process, on the shared app (no model): /metrics is open like /health, a 401 is
    counted on the route it was refused on, and two apps in one process do not clash."""
    from lazyllm.deploy.servers._app import create_app
    app = create_app(served_name='m', kind='embed', api_key='secret-key')
    create_app(served_name='other', kind='embed')     # a second registry of the same names
    with TestClient(app) as client:
        assert client.get('/v1/models').status_code == 401
        assert client.post('/v1/models', headers={'Authorization': 'Bearer secret-key'}
                           ).status_code == 405
        page = client.get('/metrics')
    assert page.status_code == 200
    from tests.support.metrics import Scrape
    samples = Scrape(page.text)
    assert samples.value('lazyllm_requests_total', route='/v1/models', status='401') == 1
    assert samples.value('lazyllm_requests_total', route='/v1/models', status='405') == 1
    assert 'secret-key' not in page.text
