"""``lazyllm serve``, run as a user runs it: the gateway is a real ``python -m lazyllm serve``
subprocess over real engines registered by this process (``start(name=…, detach=True)``), in a
LAZYLLM_HOME of this module's own, called with the official ``openai`` SDK and with raw httpx
for what the SDK cannot send. Every process a test starts is stopped by a fixture."""
from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest

import lazyllm
from tests.support.gateway import (
    FRANCE,
    ROOT,
    Gateway,
    direct_url,
    error_of,
    start_named,
)
from tests.support.procs import alive, wait_until
from tests.support.speech import SENTENCES, words

# -- fixtures: one home, the engines, one gateway for the module ------------------------------


@pytest.fixture(scope='module')
def rr(home, reranker_path):
    m = start_named(reranker_path, 'rr')
    yield m
    m.stop(force=True)


@pytest.fixture(scope='module')
def gateway(smol, emb, rr):
    gw = Gateway()
    yield gw
    gw.stop()


@pytest.fixture(scope='module')
def http(gateway):
    with httpx.Client(base_url=gateway.root, timeout=120) as c:
        yield c


# -- what it serves ----------------------------------------------------------------------------
def test_models_lists_every_running_deployment_with_its_kind(gateway, client, http):
    assert sorted(m.id for m in client.models.list()) == ['emb', 'rr', 'smol']
    raw = http.get('/v1/models').json()
    assert raw['object'] == 'list'
    cards = {m['id']: m for m in raw['data']}
    assert {k: c['kind'] for k, c in cards.items()} == {'smol': 'llm', 'emb': 'embed',
                                                         'rr': 'rerank'}
    assert cards['smol']['engine'] == 'transformers'
    assert all(c['object'] == 'model' and c['owned_by'] == 'lazyllm' for c in cards.values())
    assert http.get('/health').json() == {'status': 'ok', 'models': 3}


def test_one_model_card_by_id(http):
    assert http.get('/v1/models/emb').json()['kind'] == 'embed'
    missing = http.get('/v1/models/nope')
    assert missing.status_code == 404 and error_of(missing)['code'] == 'model_not_found'


def test_chat_through_the_gateway_equals_the_engine_directly(client):
    ask = dict(model='smol', messages=FRANCE, temperature=0, max_tokens=16)
    via = client.chat.completions.create(**ask)
    with openai.OpenAI(base_url=direct_url('smol'), api_key='x', max_retries=0) as engine:
        direct = engine.chat.completions.create(**ask)
    assert 'Paris' in via.choices[0].message.content
    assert via.choices[0].message.content == direct.choices[0].message.content
    assert via.choices[0].finish_reason == direct.choices[0].finish_reason
    assert via.model == direct.model == 'smol'
    assert via.usage == direct.usage
    completion = client.completions.create(model='smol', prompt='The capital of France is',
                                           temperature=0, max_tokens=4)
    assert completion.choices[0].text and completion.model == 'smol'   # /v1/completions too


def test_a_stream_passes_through_chunk_by_chunk(client):
    ask = dict(model='smol', messages=FRANCE, temperature=0, max_tokens=16)
    whole = client.chat.completions.create(**ask).choices[0].message.content
    chunks = list(client.chat.completions.create(**ask, stream=True))
    with openai.OpenAI(base_url=direct_url('smol'), api_key='x', max_retries=0) as engine:
        direct = list(engine.chat.completions.create(**ask, stream=True))
    text = ''.join(c.choices[0].delta.content or '' for c in chunks if c.choices)
    print(f'{len(chunks)} chunks through the gateway, {len(direct)} from the engine')
    assert text == whole and 'Paris' in text
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1
    assert len(chunks) == len(direct)               # the engine's events, one for one
    assert chunks[-1].choices[0].finish_reason == direct[-1].choices[0].finish_reason


def test_embeddings_equal_the_engines_own(client):
    texts = ['The capital of France is Paris.', 'a completely different sentence']
    via = client.embeddings.create(model='emb', input=texts)
    with openai.OpenAI(base_url=direct_url('emb'), api_key='x', max_retries=0) as engine:
        direct = engine.embeddings.create(model='emb', input=texts)
    assert [d.embedding for d in via.data] == [d.embedding for d in direct.data]
    assert len(via.data) == 2 and len(via.data[0].embedding) == 384


def test_rerank_equals_the_engines_own(http):
    body = {'model': 'rr', 'query': 'What is the capital of France?',
            'documents': ['Paris is the capital of France.', 'Bananas are yellow.']}
    via = http.post('/v1/rerank', json=body)
    direct = httpx.post(direct_url('rr') + 'rerank', json=body, timeout=120)
    assert via.status_code == direct.status_code == 200, via.text
    assert via.json()['results'] == direct.json()['results']
    assert [r['index'] for r in via.json()['results']] == [0, 1]


def test_two_deployments_behind_one_port_answer_at_the_same_time(client):
    def chat(i):
        return client.chat.completions.create(model='smol', messages=FRANCE, temperature=0,
                                              max_tokens=8).choices[0].message.content

    def embed(i):
        return client.embeddings.create(model='emb', input=f'sentence {i}').data[0].embedding

    with ThreadPoolExecutor(8) as pool:
        chats = [pool.submit(chat, i) for i in range(4)]
        embeds = [pool.submit(embed, i) for i in range(4)]
        answers = [f.result() for f in chats]
        vectors = [f.result() for f in embeds]
    assert len(set(answers)) == 1 and 'Paris' in answers[0]      # temperature 0: one answer
    assert all(len(v) == 384 for v in vectors) and len({tuple(v) for v in vectors}) == 4


def test_the_engines_own_answers_come_back_as_they_are(gateway, http):
    """The engine's status and body, its errors included, streamed or not; never its
    launch token (a secret of the registry)."""
    for stream in (False, True):
        body = {'model': 'smol', 'messages': FRANCE, 'temperature': -5, 'stream': stream}
        via = http.post('/v1/chat/completions', json=body)
        direct = httpx.post(direct_url('smol') + 'chat/completions', json=body, timeout=120)
        assert via.status_code == direct.status_code == 400, via.text
        assert via.json() == direct.json() and error_of(via)['param'] == 'temperature'
    ok = http.post('/v1/chat/completions', json={'model': 'smol', 'messages': FRANCE,
                                                 'max_tokens': 2})
    assert ok.status_code == 200
    direct = httpx.post(direct_url('smol') + 'chat/completions', timeout=120,
                        json={'model': 'smol', 'messages': FRANCE, 'max_tokens': 2})
    assert 'x-lazyllm-engine-token' in direct.headers
    assert not any('token' in h for h in ok.headers), ok.headers


def test_a_gateway_over_an_empty_registry(tmp_path):
    gw = Gateway(env={'LAZYLLM_HOME': str(tmp_path / 'empty-home')})
    try:
        c = gw.client()
        assert list(c.models.list()) == []
        with pytest.raises(openai.NotFoundError) as e:
            c.chat.completions.create(model='smol', messages=FRANCE)
        assert 'none yet' in e.value.message
        assert httpx.get(gw.root + '/health').json() == {'status': 'ok', 'models': 0}
    finally:
        gw.stop()


# -- errors in OpenAI's shape ------------------------------------------------------------------
def test_an_unknown_model_is_not_found_naming_the_served_ones(client):
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model='nope', messages=FRANCE)
    assert e.value.status_code == 404
    assert (e.value.code, e.value.param, e.value.type) == ('model_not_found', 'model',
                                                           'invalid_request_error')
    assert "'nope'" in e.value.message
    assert all(name in e.value.message for name in ('smol', 'emb', 'rr'))
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model='nope', input='x')


def test_a_route_the_model_does_not_answer_is_a_400_naming_its_kind(client, http):
    with pytest.raises(openai.BadRequestError) as e:
        client.embeddings.create(model='smol', input='hello')
    assert (e.value.code, e.value.param) == ('wrong_model_type', 'model')
    assert 'an llm model' in e.value.message and '/v1/chat/completions' in e.value.message
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model='emb', messages=FRANCE)
    assert 'an embed model' in e.value.message and '/v1/embeddings' in e.value.message
    answer = http.post('/v1/rerank', json={'model': 'emb', 'query': 'q', 'documents': ['d']})
    assert answer.status_code == 400 and error_of(answer)['code'] == 'wrong_model_type'


@pytest.mark.parametrize('body, code', [
    (b'this is not JSON', 'invalid_json'),
    (b'', 'invalid_json'),
    (b'[1, 2]', 'invalid_request'),
    (b'{"messages": [{"role": "user", "content": "hi"}]}', 'missing_model'),
    (b'{"model": 7, "messages": []}', 'missing_model'),
    (b'{"model": "", "messages": []}', 'missing_model'),
])
def test_a_bad_body_is_a_400_in_openais_shape(http, body, code):
    answer = http.post('/v1/chat/completions', content=body,
                       headers={'content-type': 'application/json'})
    assert answer.status_code == 400, answer.text
    error = error_of(answer)
    assert (error['code'], error['type']) == (code, 'invalid_request_error'), error
    assert error['param'] == ('model' if code == 'missing_model' else None)


def test_an_unknown_route_or_method_is_answered_in_openais_shape(http):
    answer = http.post('/v1/images/generations', json={'model': 'smol'})
    assert answer.status_code == 404 and error_of(answer)['code'] == 'not_found'
    answer = http.get('/v1/chat/completions')
    assert answer.status_code == 405 and error_of(answer)['code'] == 'method_not_allowed'


def test_a_body_over_the_limit_is_a_413(gateway, http, smol):
    big = json.dumps({'model': 'smol', 'messages': [
        {'role': 'user', 'content': 'x' * (4 << 20)}]}).encode()
    answer = http.post('/v1/chat/completions', content=big,
                       headers={'content-type': 'application/json'})
    assert answer.status_code == 413, answer.text
    assert error_of(answer)['code'] == 'request_too_large'

    small = Gateway('--max-body-mb', '0.01')              # 10 KiB
    try:
        with httpx.Client(base_url=small.root, timeout=120) as c:
            body = {'model': 'smol', 'messages': [{'role': 'user', 'content': 'x' * 20000}]}
            answer = c.post('/v1/chat/completions', json=body)
            assert answer.status_code == 413 and error_of(answer)['code'] == 'request_too_large'
            message = error_of(answer)['message']
            assert '10,485 bytes' in message and '--max-body-mb' in message, message

            def chunked():                    # no content-length: counted while it is read
                yield json.dumps(body).encode()
            answer = c.post('/v1/chat/completions', content=chunked(),
                            headers={'content-type': 'application/json'})
            assert answer.status_code == 413 and error_of(answer)['code'] == 'request_too_large'
        # under the limit it is served
        ok = small.client().chat.completions.create(model='smol', messages=FRANCE,
                                                    temperature=0, max_tokens=8)
        assert 'Paris' in ok.choices[0].message.content
        with pytest.raises(openai.APIStatusError) as e:       # the SDK sees OpenAI's shape
            small.client().chat.completions.create(
                model='smol', messages=[{'role': 'user', 'content': 'y' * 20000}])
        assert e.value.status_code == 413 and e.value.code == 'request_too_large'
    finally:
        small.stop()


@pytest.fixture(scope='module')
def whisper(home, whisper_path):
    m = start_named(whisper_path, 'ears')
    yield m
    m.stop(force=True)


def test_a_transcription_is_routed_like_the_other_routes(client, whisper, speech):
    """An upload names its model in a form field: the gateway reads that field from the
    multipart body and passes the body on as it came."""
    wav = speech['london'].read_bytes()
    heard = client.audio.transcriptions.create(model='ears', file=('london.wav', wav),
                                               language='en')
    with openai.OpenAI(base_url=direct_url('ears'), api_key='x', max_retries=0) as engine:
        direct = engine.audio.transcriptions.create(model='ears', file=('london.wav', wav),
                                                    language='en')
    assert heard.text == direct.text and words(heard.text) >= words(SENTENCES['london'])
    with pytest.raises(openai.NotFoundError) as e:
        client.audio.transcriptions.create(model='nope', file=('a.wav', wav))
    assert e.value.code == 'model_not_found'
    with pytest.raises(openai.BadRequestError) as e:    # a chat model does not transcribe
        client.audio.transcriptions.create(model='smol', file=('a.wav', wav))
    assert e.value.code == 'wrong_model_type'


# -- robustness: nothing one request does fails another --------------------------------------
def cancelled(name):
    """How many requests the built-in engine of ``name`` cancelled because their client went
    away (its ``GET /stats``)."""
    root = direct_url(name).removesuffix('/v1/')
    return httpx.get(root + '/stats', timeout=30).json()['cancelled']


def test_a_dropped_stream_does_not_hurt_other_calls(gateway, client):
    mark = gateway.mark()
    long = dict(model='smol', messages=[{'role': 'user', 'content': 'Tell me a long story.'}],
                temperature=0, max_tokens=2000, stream=True)     # minutes of generation
    before = cancelled('smol')
    for _ in range(3):               # the client reads the first token, then hangs up
        with httpx.Client(timeout=120) as c, \
                c.stream('POST', gateway.url + 'chat/completions', json=long) as r:
            assert r.status_code == 200
            assert any(line.startswith('data: {') and
                       json.loads(line[6:])['choices'][0]['delta'].get('content')
                       for line in r.iter_lines())     # stops at the first content chunk
    # the gateway hangs up on the engine in turn, which stops generating for nobody
    assert wait_until(lambda: cancelled('smol') - before == 3, timeout=30), \
        cancelled('smol') - before
    answer = client.chat.completions.create(model='smol', messages=FRANCE, temperature=0,
                                            max_tokens=16)
    assert 'Paris' in answer.choices[0].message.content
    streamed = ''.join(c.choices[0].delta.content or ''
                       for c in client.chat.completions.create(
                           model='smol', messages=FRANCE, temperature=0, max_tokens=16,
                           stream=True) if c.choices)
    assert streamed == answer.choices[0].message.content
    assert 'Traceback' not in gateway.since(mark), gateway.since(mark)[-3000:]


def abandon(url):
    """A non-streamed chat whose client gives up after 1.5 s, while it generates (this
    prompt runs to max_tokens at temperature 0)."""
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(url + 'chat/completions', timeout=httpx.Timeout(10, read=1.5),
                   json={'model': 'smol', 'max_tokens': 64, 'temperature': 0, 'messages': [
                       {'role': 'user',
                        'content': 'Write a long essay about the history of France.'}]})


def test_a_client_gone_mid_request_leaves_the_gateway_serving(gateway, client):
    """Non-streamed calls abandoned by their client while the engine works on them."""
    mark = gateway.mark()
    abandon(gateway.url)
    answer = client.chat.completions.create(model='smol', messages=FRANCE, temperature=0,
                                            max_tokens=16)
    assert 'Paris' in answer.choices[0].message.content
    assert gateway.proc.poll() is None
    assert 'Traceback' not in gateway.since(mark), gateway.since(mark)[-3000:]


def test_a_non_streamed_call_abandoned_by_its_client_is_cancelled_at_the_engine(gateway):
    before = cancelled('smol')
    abandon(direct_url('smol'))                      # the engine on its own: cancelled
    assert wait_until(lambda: cancelled('smol') - before == 1, timeout=15)
    before = cancelled('smol')
    abandon(gateway.url)
    gone = wait_until(lambda: cancelled('smol') - before == 1, timeout=15)
    print('cancelled at the engine after its caller left the gateway:', gone)
    assert gone


def answers_of(http, name):
    """Every answer the gateway gives a chat to ``name`` until it is a 404 (at most 20 s)."""
    seen = []
    t0 = time.monotonic()
    while time.monotonic() - t0 < 20:
        r = http.post('/v1/chat/completions', timeout=30,
                      json={'model': name, 'messages': FRANCE, 'max_tokens': 2})
        seen.append((round(time.monotonic() - t0, 2), r.status_code,
                     error_of(r) if r.status_code != 200 else None))
        if r.status_code == 404:
            break
        time.sleep(0.05)
    return seen


def test_a_deployment_stopped_after_the_gateway_started_is_a_404(gateway, client, http,
                                                                 tiny_llm_path):
    mark = gateway.mark()
    late = start_named(tiny_llm_path, 'late', llm=True)
    try:          # started after the gateway: served within the registry's re-read (1 s)
        assert wait_until(lambda: 'late' in {m.id for m in client.models.list()}, timeout=10)
        assert client.chat.completions.create(model='late', messages=FRANCE, max_tokens=2)
    finally:
        late.stop(force=True)
    seen = answers_of(http, 'late')
    print('after stop(force=True): (seconds, status) =', [s[:2] for s in seen])
    assert seen[-1][1] == 404, seen
    assert seen[-1][2]['code'] == 'model_not_found' and "'late'" in seen[-1][2]['message']
    for _, status, error in seen[:-1]:       # before the row is re-read: the engine is gone
        assert status == 502 and error['code'] == 'engine_unreachable', seen
    assert 'late' not in {m.id for m in client.models.list()}
    assert 'Traceback' not in gateway.since(mark), gateway.since(mark)[-3000:]


def test_an_engine_killed_under_the_gateway_is_a_502_until_its_row_is_checked(
        gateway, client, http, tiny_llm_path):
    """Killed outside lazyllm the row still says running: each call is a quick 502 in
    OpenAI's shape; once anything observes the row (``lazyllm ps``) it is a 404."""
    mark = gateway.mark()
    dead = start_named(tiny_llm_path, 'dead', llm=True)
    try:
        assert wait_until(lambda: 'dead' in {m.id for m in client.models.list()}, timeout=10)
        url = direct_url('dead')
        pid = dead.deployment.job.pid
        os.killpg(pid, signal.SIGKILL)
        assert wait_until(lambda: not alive(pid), timeout=10)
        for _ in range(3):
            with pytest.raises(openai.InternalServerError) as e:
                client.chat.completions.create(model='dead', messages=FRANCE, max_tokens=2)
            assert e.value.status_code == 502 and e.value.code == 'engine_unreachable'
            assert e.value.type == 'api_error' and url in e.value.message
        lazyllm.deployments()                 # observes the row: failed
        seen = answers_of(http, 'dead')
        print('after the row was observed: (seconds, status) =', [s[:2] for s in seen])
        assert seen[-1][1] == 404
    finally:
        dead.stop(force=True)
    answer = client.chat.completions.create(model='smol', messages=FRANCE, temperature=0,
                                            max_tokens=16)     # the others are unaffected
    assert 'Paris' in answer.choices[0].message.content
    assert 'Traceback' not in gateway.since(mark), gateway.since(mark)[-3000:]


# -- the command and its security --------------------------------------------------------------
def serve_cli(*args, env=None, timeout=60):
    return subprocess.run([sys.executable, '-m', 'lazyllm', 'serve', *map(str, args)],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={k: v for k, v in {**os.environ, **(env or {})}.items()
                               if v is not None})


@pytest.fixture
def taken_port():
    """A port this process listens on (on every interface)."""
    sock = socket.socket()
    sock.bind(('0.0.0.0', 0))
    sock.listen()
    yield sock.getsockname()[1]
    sock.close()


def test_a_network_host_without_keys_is_refused_before_listening(home, taken_port):
    # the port is taken: a gateway that tried to listen would fail with 1, not refuse with 2
    t0 = time.monotonic()
    out = serve_cli('--host', '0.0.0.0', '--port', taken_port,
                    env={'LAZYLLM_GATEWAY_API_KEYS': None})
    print(f'refused in {time.monotonic() - t0:.2f}s')
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert out.stderr.startswith('usage: lazyllm serve ') and 'Traceback' not in out.stderr
    assert '--api-key-file' in out.stderr and 'without API keys' in out.stderr
    assert 'lazyllm serve: the OpenAI API' not in out.stderr and out.stdout == ''


def test_a_port_in_use_exits_1(home, taken_port):
    out = serve_cli('--host', '127.0.0.1', '--port', taken_port)
    assert out.returncode == 1, (out.stdout, out.stderr)
    assert out.stderr.startswith('Error: cannot listen on 127.0.0.1:') and \
        'Traceback' not in out.stderr, out.stderr


@pytest.mark.parametrize('args', [['--port', '70000'], ['--port', '-1'],
                                  ['--max-body-mb', '0'], ['--port', 'x']])
def test_bad_numbers_are_usage_errors(home, args):
    out = serve_cli(*args)
    assert out.returncode == 2 and out.stderr.startswith('usage: lazyllm serve '), out.stderr


def test_api_keys_from_a_file(home, smol, tmp_path):
    k1, k2 = f'k1-{secrets.token_hex(8)}', f'k2-{secrets.token_hex(8)}'
    wrong = f'wrong-{secrets.token_hex(8)}'
    keys = tmp_path / 'keys.txt'
    keys.write_text(f'# the gateway keys\n{k1}\n\n  {k2}  \n')
    gw = Gateway('--host', '0.0.0.0', '--api-key-file', keys)     # keys: the network is fine
    try:
        assert '(API keys required)' in ''.join(gw.err)
        with httpx.Client(base_url=gw.root, timeout=120) as http:
            for headers in ({}, {'authorization': 'Bearer'}, {'authorization': f'Bearer {wrong}'},
                            {'authorization': f'Basic {k1}'}, {'authorization': k1},
                            {'authorization': f'Bearer {k1}{k2}'},
                            {'authorization': f'Bearer {k1[:-1]}'}):
                for answer in (http.get('/v1/models', headers=headers),
                               http.post('/v1/chat/completions', headers=headers,
                                         json={'model': 'smol', 'messages': FRANCE})):
                    assert answer.status_code == 401, (headers, answer.text)
                    error = error_of(answer)
                    assert (error['type'], error['code']) == ('authentication_error',
                                                              'invalid_api_key')
            health = http.get('/health')                 # no key needed
            assert health.status_code == 200 and health.json()['status'] == 'ok'
        with pytest.raises(openai.AuthenticationError) as e:
            gw.client(api_key=wrong).models.list()
        assert e.value.status_code == 401 and e.value.code == 'invalid_api_key'
        with pytest.raises(openai.AuthenticationError):
            gw.client(api_key=wrong).chat.completions.create(model='smol', messages=FRANCE)
        assert 'smol' in {m.id for m in gw.client(api_key=k1).models.list()}
        c = gw.client(api_key=k2)
        assert 'smol' in {m.id for m in c.models.list()}
        answer = c.chat.completions.create(model='smol', messages=FRANCE, temperature=0,
                                           max_tokens=16)
        assert 'Paris' in answer.choices[0].message.content
        assert len(list(c.chat.completions.create(model='smol', messages=FRANCE,
                                                  max_tokens=4, stream=True))) > 1
        with pytest.raises(openai.NotFoundError):        # a good key, then the usual errors
            gw.client(api_key=k2).chat.completions.create(model='nope', messages=FRANCE)
    finally:
        gw.stop()
    logged = gw.text
    print(f'gateway output after the traffic ({len(logged)} chars):', logged[-1000:])
    for secret in (k1, k2, wrong, k1[:-1]):
        assert secret not in logged


def test_api_keys_from_the_environment(home, smol):
    gw = Gateway('--host', '0.0.0.0', env={'LAZYLLM_GATEWAY_API_KEYS': ' e1-key , e2-key '})
    try:
        with pytest.raises(openai.AuthenticationError):
            gw.client(api_key='e3-key').models.list()
        assert 'smol' in {m.id for m in gw.client(api_key='e2-key').models.list()}
        assert 'smol' in {m.id for m in gw.client(api_key='e1-key').models.list()}
        assert httpx.get(gw.root + '/v1/models').status_code == 401
    finally:
        gw.stop()
    assert 'e1-key' not in gw.text and 'e2-key' not in gw.text


def test_a_key_file_without_keys_or_missing_is_an_error(home, tmp_path):
    empty = tmp_path / 'empty.txt'
    empty.write_text('# nothing but a comment\n\n')
    for path, said in ((empty, 'holds no key'), (tmp_path / 'missing.txt', 'cannot read')):
        out = serve_cli('--api-key-file', path, env={'LAZYLLM_GATEWAY_API_KEYS': None})
        assert out.returncode == 1 and out.stderr.startswith('Error: '), out.stderr
        assert said in out.stderr and 'Traceback' not in out.stderr


@pytest.mark.parametrize('sig', [signal.SIGINT, signal.SIGTERM])
def test_the_gateway_stops_cleanly_on_a_signal(home, sig):
    """Ctrl-C exits 0; SIGTERM shuts down the same way and exits by the signal (uvicorn
    raises it again once shut down, as a process ended by SIGTERM should)."""
    gw = Gateway()
    assert httpx.get(gw.root + '/health').status_code == 200
    gw.proc.send_signal(sig)
    gw.proc.wait(30)
    code = gw.stop()
    assert code == (0 if sig == signal.SIGINT else -signal.SIGTERM), gw.text
    assert 'Traceback' not in gw.text, gw.text
