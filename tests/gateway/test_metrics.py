"""``GET /metrics`` of ``lazyllm serve``: a real gateway subprocess with two API keys over
real engines registered in a LAZYLLM_HOME of this module's own (the tiny random Qwen2 on the
LLM engine, all-MiniLM-L6-v2 on the embedding engine), traffic sent with the official
``openai`` SDK, the page read with prometheus_client's own parser. Every number is checked
against what the clients saw: counts by model, route and status, token totals equal to the
``usage`` the answers carried, per key id, and no key ever written on the page."""
from __future__ import annotations

import hashlib
import secrets

import httpx
import openai
import pytest

from tests.support.gateway import Gateway, start_named
from tests.support.metrics import scrape
from tests.support.procs import wait_until

USER = [{'role': 'user', 'content': 'the quick brown fox'}]
CHAT = '/v1/chat/completions'


@pytest.fixture(scope='module')
def tiny(home, tiny_llm_path):
    m = start_named(tiny_llm_path, 'tiny', llm=True)
    yield m
    m.stop(force=True)


@pytest.fixture(scope='module')
def keys():
    return f'alpha-{secrets.token_hex(8)}', f'beta-{secrets.token_hex(8)}'


@pytest.fixture(scope='module')
def gateway(tiny, emb, keys):
    gw = Gateway(env={'LAZYLLM_GATEWAY_API_KEYS': ','.join(keys)})
    yield gw
    gw.stop()


def key_id(key: str) -> str:
    return 'key-' + hashlib.sha256(key.encode()).hexdigest()[:8]


def stream(client: openai.OpenAI, usage: bool) -> dict | None:
    """A streamed chat read to its end; its usage when asked for (the last chunk's)."""
    chunks = list(client.chat.completions.create(
        model='tiny', messages=USER, temperature=0, max_tokens=6, stream=True,
        **({'stream_options': {'include_usage': True}} if usage else {})))
    assert any(c.choices and c.choices[0].delta.content for c in chunks)   # text came
    return chunks[-1].usage.model_dump() if usage else None


def test_counts_tokens_and_first_tokens_by_model_route_status_and_key(gateway, keys):
    a, b = (gateway.client(api_key=k) for k in keys)
    auth = {'authorization': f'Bearer {keys[0]}'}
    before = scrape(gateway.root, **auth)
    seen: dict[str, list[dict]] = {keys[0]: [], keys[1]: []}     # the usage each key saw

    seen[keys[1]].append(stream(b, usage=True))
    stream(a, usage=False)            # no usage asked: a first token, but no token count
    for client, key, n in ((a, keys[0], 2), (b, keys[1], 1)):
        for i in range(n):
            answer = client.chat.completions.create(model='tiny', messages=USER,
                                                    temperature=0, max_tokens=3 + i)
            seen[key].append(answer.usage.model_dump())
    vectors = b.embeddings.create(model='emb', input=['a cat', 'a dog', 'a fox'])
    made_up = f'no-such-model-{secrets.token_hex(4)}'
    with pytest.raises(openai.NotFoundError):
        a.chat.completions.create(model=made_up, messages=USER)
    assert httpx.post(gateway.url + 'chat/completions', timeout=30,
                      json={'model': 'tiny', 'messages': USER}).status_code == 401

    def settled():
        d = scrape(gateway.root, **auth) - before
        return d if d.value('lazyllm_gateway_requests_total', route=CHAT) == 7 else None
    d = wait_until(settled, timeout=10)       # a stream is counted once its engine call closed
    assert d, 'the gateway did not count 7 chat requests'
    after = d.after

    def requests(model: str, route: str, status: int) -> float:
        return d.value('lazyllm_gateway_requests_total', model=model, route=route,
                       status=str(status))
    assert requests('tiny', CHAT, 200) == 5
    assert requests('emb', '/v1/embeddings', 200) == 1
    assert requests('unknown', CHAT, 404) == 1          # a made-up name is not a label
    assert requests('unknown', CHAT, 401) == 1
    assert made_up not in after.text
    assert d.value('lazyllm_gateway_request_duration_seconds_count', model='tiny',
                   route=CHAT) == 5
    assert d.value('lazyllm_gateway_time_to_first_token_seconds_count', model='tiny') == 2
    assert d.value('lazyllm_gateway_time_to_first_token_seconds_count', model='emb') == 0

    for key, usages in seen.items():
        label = key_id(key)
        assert d.value('lazyllm_gateway_prompt_tokens_total', model='tiny', key=label) == \
            sum(u['prompt_tokens'] for u in usages) > 0
        assert d.value('lazyllm_gateway_completion_tokens_total', model='tiny', key=label) == \
            sum(u['completion_tokens'] for u in usages) > 0
    assert d.value('lazyllm_gateway_prompt_tokens_total', model='emb', key=key_id(keys[1])) \
        == vectors.usage.prompt_tokens > 0
    assert after.labels('lazyllm_gateway_prompt_tokens_total', 'key') == \
        {key_id(keys[0]), key_id(keys[1])}
    assert after.value('lazyllm_gateway_live_deployments') == 2
    for key in keys:
        assert key not in after.text and key[-12:] not in after.text


def test_metrics_needs_a_key_when_the_gateway_has_keys(gateway, keys):
    """The page names the deployments, which /v1/models shows only to a caller with a key."""
    for headers in ({}, {'authorization': 'Bearer wrong'}):
        refused = httpx.get(gateway.root + '/metrics', headers=headers, timeout=30)
        assert refused.status_code == 401
        assert refused.json()['error']['code'] == 'invalid_api_key'
    page = scrape(gateway.root, authorization=f'Bearer {keys[1]}')
    assert page.value('lazyllm_gateway_requests_total', route='/metrics', status='401') >= 2


# -- the usage scanner, on bytes (no process) ---------------------------------------------------
FINAL = (b'data: {"id":"c","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3,'
         b'"total_tokens":10}}\n\n')
CHUNK = (b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"\\"usage\\": {}"}}],'
         b'"usage":null}\n\n')


def test_usage_is_found_wherever_the_chunks_are_cut():
    from lazyllm.gateway._metrics import UsageScan
    body = CHUNK * 2 + FINAL + b'data: [DONE]\n\n'
    for i in range(len(body)):
        for j in range(i, len(body), 7):
            scan = UsageScan()
            for part in (body[:i], body[i:j], body[j:]):
                scan.feed(part)
            assert scan.usage == {'prompt_tokens': 7, 'completion_tokens': 3,
                                  'total_tokens': 10}, (i, j)


def test_usage_in_generated_text_or_a_null_usage_is_not_counted():
    from lazyllm.gateway._metrics import UsageScan
    scan = UsageScan()
    for _ in range(3):
        scan.feed(CHUNK)       # text that says "usage": {…} is escaped JSON, not a key
    assert scan.usage is None
    whole = UsageScan()
    whole.feed(b'{"object":"list","data":[{"embedding":[0.5]}],"model":"e","usage":'
               b'{"prompt_tokens":4,"total_tokens":4}}')
    assert whole.usage == {'prompt_tokens': 4, 'total_tokens': 4}
