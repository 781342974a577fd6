"""The gateway's management API (``/v1/deployments``), run as a user runs it: a real ``python -m
lazyllm serve`` subprocess launching real engines through detached ``lazyllm deploy``
processes, in a LAZYLLM_HOME of this module's own; the models are called through the gateway
with the official ``openai`` SDK, everything else with raw httpx. Every process a test starts
is stopped by a fixture."""
from __future__ import annotations

import json
import os
import threading
import time

import httpx
import openai
import pytest

import lazyllm
from tests.support.gateway import FRANCE, ROOT, Gateway, error_of, stop_leftovers
from tests.support.procs import alive, wait_until

LAUNCH_TIMEOUT = 300       # two engines launched at once on a shared CPU


# -- fixtures ---------------------------------------------------------------------------------
@pytest.fixture(scope='module')
def home(tmp_path_factory):
    """A registry of this module's own (the gateway and its deploy processes inherit it);
    whatever is still live at the end is stopped as `lazyllm stop` would."""
    with pytest.MonkeyPatch.context() as mp:
        folder = tmp_path_factory.mktemp('manage-home')
        mp.setenv('LAZYLLM_HOME', str(folder))
        yield folder
        from lazyllm.serve import end_deployment
        for rec in lazyllm.deployments():
            if rec.status in ('running', 'starting'):
                end_deployment(rec.name)
        stop_leftovers()


@pytest.fixture(scope='module')
def gateway(home):
    gw = Gateway()
    yield gw
    gw.stop()
    assert 'Traceback' not in gw.text, gw.text[-5000:]      # nothing failed inside it


@pytest.fixture(scope='module')
def http(gateway):
    with httpx.Client(base_url=gateway.root, timeout=120) as c:
        yield c


def rows(http, **kw) -> dict:
    answer = http.get('/v1/deployments', **kw)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body['object'] == 'list'
    return {r['name']: r for r in body['data']}


def statuses_until_settled(http, names, timeout=LAUNCH_TIMEOUT) -> dict:
    """Each name's statuses as the list showed them, polled once a second until every one
    is running or failed."""
    seen: dict = {n: [] for n in names}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listed = rows(http)
        for n in names:
            if not seen[n] or seen[n][-1] != listed[n]['status']:
                seen[n].append(listed[n]['status'])
        if all(s[-1] in ('running', 'failed') for s in seen.values()):
            break
        time.sleep(1)
    return seen


def sse(gateway, name, until=None, **params) -> list:
    """The lines of ``name``'s followed log, to its end or the first line holding ``until``."""
    got = []
    with httpx.Client(base_url=gateway.root, timeout=60) as c, \
            c.stream('GET', f'/v1/deployments/{name}/logs',
                     params={'follow': 'true', **params}) as r:
        assert r.status_code == 200, r.read()
        for line in r.iter_lines():
            got.append(line)
            if until and until in line:
                break
    return got


@pytest.fixture(scope='module')
def launched(gateway, http, minilm_path, smollm_path):
    """An embedding model and a chat model launched at once through ``POST``: the answers,
    the list read right after, the statuses it showed until both settled, and the log of
    one followed from the launch on."""
    asks = {'emb': {'model': str(minilm_path), 'name': 'emb'},
            'smol': {'model': str(smollm_path), 'name': 'smol', 'engine': 'transformers',
                     'options': {'max_batch': 4}}}
    answers = {n: http.post('/v1/deployments', json=body) for n, body in asks.items()}
    right_after = rows(http)
    followed: list = []
    follower = threading.Thread(target=lambda: followed.extend(
        sse(gateway, 'emb', until='Application startup complete')), daemon=True)
    follower.start()
    seen = statuses_until_settled(http, asks)
    follower.join(60)
    return answers, right_after, seen, followed


# -- bad requests: a 4xx naming the cause, and nothing launched ----------------------------------
BAD = [
    (b'not json', 'invalid_json', None, 'not JSON'),
    (b'[1, 2]', 'invalid_request', None, 'JSON object'),
    ({}, 'missing_model', 'model', 'names no "model"'),
    ({'model': None}, 'missing_model', 'model', 'names no "model"'),
    ({'model': 7}, 'invalid_type', 'model', '"model" must be a string'),
    ({'model': 'x', 'name': 5}, 'invalid_type', 'name', '"name" must be a string'),
    ({'model': 'x', 'options': [1]}, 'invalid_type', 'options', '"options" must be an object'),
    ({'model': 'x', 'modle': 1, 'zz': 2}, 'unknown_field', 'modle', "'modle', 'zz'"),
    ({'model': 'x', 'engine': 'nope'}, 'unknown_engine', 'engine', 'transformers, '),
    ({'model': 'x', 'launcher': 'k8s'}, 'unknown_launcher', 'launcher', 'local, slurm, ray'),
    ({'model': 'x', 'engine': 'embedding', 'options': {'max_batch': 4}}, 'invalid_option',
     'options', 'embedding engine has no option(s) max_batch'),
    ({'model': 'x', 'engine': 'transformers', 'options': {'max_batch': 'eight'}},
     'invalid_option', 'options', 'max_batch must be an int'),
    ({'model': 'x', 'options': {'zzz': 1}}, 'invalid_option', 'options', 'no engine has'),
    ({'model': '/no/such/model'}, 'model_not_found', 'model', 'does not exist'),
    ({'model': ''}, 'invalid_model', 'model', 'empty'),
    ({'model': '--help'}, 'invalid_model', 'model', 'starts with "-"'),
    ({'model': 'x', 'name': 'a b'}, 'invalid_name', 'name', 'is not valid'),
    ({'model': 'x', 'name': '-x'}, 'invalid_name', 'name', 'starts with "-"'),
    ({'model': 'org/bad name!'}, 'invalid_name', 'name', 'give a "name"'),
]


@pytest.mark.parametrize('body, code, param, said', BAD)
def test_a_bad_launch_is_a_400_naming_the_field(gateway, http, body, code, param, said):
    if isinstance(body, bytes):
        answer = http.post('/v1/deployments', content=body,
                           headers={'content-type': 'application/json'})
    else:
        answer = http.post('/v1/deployments', json=body)
    assert answer.status_code == 400, answer.text
    error = error_of(answer)
    assert (error['code'], error['param'], error['type']) == (code, param,
                                                              'invalid_request_error'), error
    assert said in error['message'], error['message']
    assert not set(rows(http)) & {'x', 'bad name!', 'a b', '-x', 'model', 'help'}


def test_a_launch_body_over_64_kib_is_a_413(http):
    answer = http.post('/v1/deployments', json={'model': 'x' * (70 << 10)})
    assert answer.status_code == 413 and error_of(answer)['code'] == 'request_too_large'


def test_an_unknown_name_is_a_404_everywhere(http):
    for method, path in (('GET', '/v1/deployments/nope'), ('DELETE', '/v1/deployments/nope'),
                         ('GET', '/v1/deployments/nope/logs')):
        answer = http.request(method, path)
        assert answer.status_code == 404, (method, path, answer.text)
        error = error_of(answer)
        assert error['code'] == 'deployment_not_found' and "'nope'" in error['message']
    answer = http.get('/v1/deployments/a%20b')
    assert answer.status_code == 400 and error_of(answer)['code'] == 'invalid_name'


@pytest.mark.parametrize('query, param', [
    ('tail=-1', 'tail'), ('tail=ten', 'tail'), ('tail=10001', 'tail'),
    ('follow=maybe', 'follow'), ('tial=5', 'tial')])
def test_a_bad_logs_query_is_a_400_naming_it(http, query, param):
    answer = http.get(f'/v1/deployments/nope/logs?{query}')
    assert answer.status_code == 400, answer.text
    assert error_of(answer)['param'] == param


def test_a_model_that_cannot_deploy_is_listed_failed_with_the_reason(gateway, http,
                                                                      tmp_path):
    empty = tmp_path / 'no-weights'
    empty.mkdir()
    answer = http.post('/v1/deployments', json={'model': str(empty)})
    assert answer.status_code == 202, answer.text
    assert answer.json()['name'] == 'no-weights'            # named as `lazyllm deploy` names it
    assert answer.json()['status'] == 'starting'
    followed = sse(gateway, 'no-weights', tail=100)           # ends as the deploy fails
    assert followed[-3:] == ['event: end', 'data: failed', ''], followed
    assert any(line.startswith('data: Error: ') and 'has no model weights' in line
               for line in followed), followed
    row = http.get('/v1/deployments/no-weights').json()
    assert row['status'] == 'failed' and 'has no model weights' in row['reason'], row
    log = http.get('/v1/deployments/no-weights/logs').text      # the deploy process's log
    assert 'Error: ' in log and 'has no model weights' in log


# -- a launch, used, followed and stopped --------------------------------------------------------
def test_a_launch_answers_202_at_once_and_the_list_shows_progress(launched):
    answers, right_after, seen, _ = launched
    for name, answer in answers.items():
        assert answer.status_code == 202, answer.text
        body = answer.json()
        assert (body['name'], body['status'], body['object']) == (name, 'starting', 'deployment')
        assert answer.headers['location'] == f'/v1/deployments/{name}'
        assert right_after[name]['status'] == 'starting'         # a row before the 202
    print('statuses seen:', seen)
    assert seen == {'emb': ['starting', 'running'], 'smol': ['starting', 'running']}


def test_a_log_followed_from_the_launch_goes_on_into_the_engines(launched):
    """Before its engine is launched, a deployment's log is its deploy process's; the
    follower moves on to the engine's log, from its start, once the row names the job."""
    followed = launched[3]
    assert followed and followed[-1].startswith('data: ') and \
        'Application startup complete' in followed[-1], followed[-10:]
    assert any('Started server process' in line for line in followed), followed


def test_a_launched_deployment_is_a_full_row(launched, http):
    row = http.get('/v1/deployments/smol').json()
    assert set(row) == {'object', 'name', 'model', 'engine', 'type', 'status', 'url', 'pid',
                        'job_id', 'launcher', 'options', 'created', 'reason'}
    assert (row['engine'], row['type'], row['launcher']) == ('transformers', 'llm', 'local')
    assert row['options'] == {'max_batch': 4} and row['reason'] is None
    assert row['url'].startswith('http://') and alive(row['pid'])
    assert 'token' not in json.dumps(rows(http))               # the launch token stays secret
    # the same rows `lazyllm ps` reads
    assert {r.name: r.status for r in lazyllm.deployments()}['smol'] == 'running'


def test_the_sdk_calls_the_launched_models_through_the_gateway(launched, gateway):
    client = gateway.client()
    vectors = client.embeddings.create(model='emb', input=['a cat', 'a dog'])
    assert len(vectors.data) == 2 and len(vectors.data[0].embedding) == 384
    chat = client.chat.completions.create(model='smol', messages=FRANCE, temperature=0,
                                          max_tokens=16)
    assert 'Paris' in chat.choices[0].message.content
    assert {m.id for m in client.models.list()} >= {'emb', 'smol'}


def test_a_live_name_is_a_409(launched, http, minilm_path):
    answer = http.post('/v1/deployments', json={'model': str(minilm_path), 'name': 'emb'})
    assert answer.status_code == 409, answer.text
    error = error_of(answer)
    assert (error['code'], error['param']) == ('deployment_exists', 'name')
    assert 'already running' in error['message'] and 'DELETE' in error['message']


def test_logs_tail_is_text(launched, http):
    answer = http.get('/v1/deployments/emb/logs', params={'tail': 3})
    assert answer.status_code == 200, answer.text
    assert answer.headers['content-type'].startswith('text/plain')
    assert 0 < len(answer.text.splitlines()) <= 3
    everything = http.get('/v1/deployments/emb/logs', params={'tail': 10000}).text
    assert 'Application startup complete' in everything
    assert everything.endswith(answer.text)
    assert http.get('/v1/deployments/emb/logs', params={'tail': 0}).text == ''


def read_syscalls(pid: int) -> int:
    """How many read system calls process ``pid`` (all its threads) has made so far."""
    with open(f'/proc/{pid}/io') as f:
        return int(dict(line.split(': ') for line in f.read().splitlines())['syscr'])


def reads_during(pid: int, seconds: float) -> int:
    before = read_syscalls(pid)
    time.sleep(seconds)
    return read_syscalls(pid) - before


def append_lines(path, count, every):
    """Append ``count`` lines to the log at ``path``, one every ``every`` seconds."""
    for i in range(count):
        with open(path, 'a') as f:
            f.write(f'test-line {i}\n')
        time.sleep(every)


def batches(times, gap=0.01):
    """How many bursts ``times`` (arrival times, in order) fall into: the lines of one read
    of the log arrive together, those of the next read 20 ms or more later."""
    return 1 + sum(b - a > gap for a, b in zip(times, times[1:]))


def test_logs_follow_is_sse_polled_gently_and_ends_with_its_client(launched, gateway, http):
    log = {r.name: r for r in lazyllm.deployments()}['emb'].log_path
    with httpx.Client(base_url=gateway.root, timeout=30) as c, \
            c.stream('GET', '/v1/deployments/emb/logs',
                     params={'tail': 2, 'follow': 'true'}) as r:
        assert r.status_code == 200
        assert r.headers['content-type'].startswith('text/event-stream')
        lines = r.iter_lines()
        events = [next(lines) for _ in range(4)]            # two events: 'data: …', ''
        assert [e.startswith('data: ') for e in events] == [True, False, True, False], events
        assert events[2] == 'data: ' + http.get('/v1/deployments/emb/logs',
                                                params={'tail': 1}).text.rstrip('\n')
        # a line every 20 ms for 2 s: the gateway reads the log in at most 4 bursts a second
        writer = threading.Thread(target=append_lines, args=(log, 100, 0.02), daemon=True)
        writer.start()
        arrived = []
        for line in lines:
            if line.startswith('data: test-line'):
                arrived.append((time.monotonic(), line))
                if len(arrived) == 100:
                    break
        writer.join()
        assert [line for _, line in arrived] == [f'data: test-line {i}' for i in range(100)]
        bursts = batches([t for t, _ in arrived])
        following = reads_during(gateway.proc.pid, 1.0)
    time.sleep(1.0)
    after = reads_during(gateway.proc.pid, 2.0)            # the client left: polling stopped
    print(f'{bursts} bursts for 100 lines in 2 s; the gateway\'s read syscalls: {following} '
          f'in 1 s while following, {after} in 2 s after')
    assert 4 <= bursts <= 20, bursts               # reading the log as it grew: ~100
    assert following > 0 and after <= 2, (following, after)


def test_delete_stops_the_engine_and_its_followers(launched, gateway, http):
    pid = http.get('/v1/deployments/emb').json()['pid']
    assert alive(pid)
    events: list = []

    def follow():
        with httpx.Client(base_url=gateway.root, timeout=60) as c, \
                c.stream('GET', '/v1/deployments/emb/logs',
                         params={'tail': 0, 'follow': 'true'}) as r:
            events.extend(r.iter_lines())
    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    time.sleep(1.0)
    answer = http.delete('/v1/deployments/emb')
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body['name'], body['status'], body['stopped']) == ('emb', 'stopped', True)
    assert not alive(pid)                                   # `lazyllm stop`: gone on return
    follower.join(15)
    assert not follower.is_alive(), 'the follower did not end with its deployment'
    assert 'event: end' in events[-3:] and 'data: stopped' in events[-3:], events[-6:]
    assert rows(http)['emb']['status'] == 'stopped'
    again = http.delete('/v1/deployments/emb')              # stopping again says so
    assert again.status_code == 200 and again.json()['stopped'] is False
    client = gateway.client()

    def gone():
        try:
            client.embeddings.create(model='emb', input='x')
        except openai.NotFoundError:
            return True
        except openai.APIStatusError:            # the registry is re-read once a second
            return False
        return False
    assert wait_until(gone, timeout=10, interval=0.2)


# -- who may manage ------------------------------------------------------------------------------
def key_file(tmp_path, name, *keys):
    path = tmp_path / name
    path.write_text('# keys\n' + ''.join(k + '\n' for k in keys))
    return path


def status(gw, method, path, key=None):
    headers = {'authorization': f'Bearer {key}'} if key else {}
    return httpx.request(method, gw.root + path, headers=headers, timeout=30).status_code


def test_admin_keys_guard_management_and_may_call_the_models(home, tmp_path):
    gw = Gateway('--api-key-file', key_file(tmp_path, 'keys', 'user-key'),
                 '--admin-key-file', key_file(tmp_path, 'admin', 'admin-key'))
    try:
        assert status(gw, 'GET', '/v1/deployments', 'admin-key') == 200
        assert status(gw, 'GET', '/v1/deployments', 'user-key') == 403
        assert status(gw, 'GET', '/v1/deployments', 'wrong') == 401
        assert status(gw, 'GET', '/v1/deployments') == 401
        assert status(gw, 'DELETE', '/v1/deployments/smol', 'user-key') == 403
        answer = httpx.post(gw.root + '/v1/deployments', json={'model': '/no/such'},
                            headers={'authorization': 'Bearer user-key'})
        assert answer.status_code == 403
        error = error_of(answer)
        assert error['code'] == 'admin_key_required' and 'admin key' in error['message']
        assert status(gw, 'GET', '/v1/models', 'user-key') == 200
        assert status(gw, 'GET', '/v1/models', 'admin-key') == 200     # admins may call too
        assert status(gw, 'GET', '/v1/models') == 401
        with pytest.raises(openai.PermissionDeniedError):               # the SDK's own error
            gw.client('user-key').get('/deployments', cast_to=object)
    finally:
        gw.stop()
    assert 'user-key' not in gw.text and 'admin-key' not in gw.text


def test_admin_keys_from_the_environment_leave_an_open_gateway_open_for_calls(home):
    gw = Gateway(env={'LAZYLLM_GATEWAY_ADMIN_KEYS': 'adm-1,adm-2'})
    try:
        assert status(gw, 'GET', '/v1/deployments', 'adm-2') == 200
        assert status(gw, 'GET', '/v1/deployments', 'someone') == 401
        assert status(gw, 'GET', '/v1/deployments') == 401
        assert status(gw, 'GET', '/v1/models') == 200                   # calls stay open
    finally:
        gw.stop()


def test_without_admin_keys_the_api_keys_manage(home, tmp_path):
    gw = Gateway('--api-key-file', key_file(tmp_path, 'keys', 'user-key'))
    try:
        assert status(gw, 'GET', '/v1/deployments', 'user-key') == 200
        assert status(gw, 'GET', '/v1/deployments') == 401
    finally:
        gw.stop()


def test_an_unreadable_admin_key_file_is_an_error_before_listening(tmp_path):
    import subprocess
    import sys
    out = subprocess.run([sys.executable, '-m', 'lazyllm', 'serve', '--port', '0',
                          '--admin-key-file', tmp_path / 'missing.txt'], cwd=ROOT,
                         capture_output=True, text=True, timeout=60,
                         env={**os.environ, 'LAZYLLM_HOME': str(tmp_path)})
    assert out.returncode == 1, out.stderr
    assert out.stderr.startswith('Error: cannot read the admin key file'), out.stderr
