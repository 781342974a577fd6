"""A truthful registry, through the CLI as a user runs it (real subprocesses, a home of its own):
a busy engine stays 'running', 'failed' is never sticky, and `lazyllm stop` ends a local engine
by process group, with no HTTP and so no API key.

"Busy" is made certain rather than hoped for: a long request is in flight and then the engine
process is frozen with SIGSTOP, so its ``/health`` cannot answer any probe (checked), exactly
like an engine stuck in a long step; SIGCONT lets the request finish.
"""
import os
import signal
import threading

import httpx
import psutil
import pytest

from lazyllm.registry import Registry
from tests.faults.conftest_lifecycle import end_all, lazyllm_cli, processes_of, ps
from tests.support.procs import alive, wait_until

KEY = 'sk-fault-suite-key'


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    env = {**os.environ, 'LAZYLLM_HOME': str(tmp_path_factory.mktemp('truth-home'))}
    env.pop('LAZYLLM_ENGINE_API_KEY', None)
    yield env
    end_all(env)


def registry(env):
    return Registry(os.path.join(env['LAZYLLM_HOME'], 'registry.db'))


def deploy(env, path, name, **extra_env):
    out = lazyllm_cli({**env, **extra_env}, 'deploy', path, '--name', name, '--engine',
                      'transformers')
    assert out.returncode == 0, out.stderr[-3000:]
    return ps(env)[name]


def engine_of(rec):
    (engine,) = psutil.Process(rec['pid']).children()
    return engine


def test_a_busy_engine_stays_running_and_stop_ends_it(env, tiny_llm_path):
    name = f'zf-busy-{os.getpid()}'
    rec = deploy(env, tiny_llm_path, name)
    engine = engine_of(rec)
    root = rec['url'][:-len('/v1/')]
    first, done, answer = threading.Event(), threading.Event(), []

    def long_request():
        body = {'model': name, 'stream': True, 'max_tokens': 480, 'temperature': 0,
                'messages': [{'role': 'user', 'content': 'tell me a long story'}]}
        with httpx.stream('POST', rec['url'] + 'chat/completions', json=body,
                          timeout=120) as r:
            for line in r.iter_lines():
                first.set()
                answer.append(line)
        done.set()
    thread = threading.Thread(target=long_request)
    thread.start()
    try:
        assert first.wait(60)
        engine.send_signal(signal.SIGSTOP)                 # busy: nothing answers now
        with pytest.raises(httpx.TimeoutException):
            httpx.get(root + '/health', timeout=2)
        for _ in range(2):                                 # and again: nothing sticks
            assert ps(env)[name]['status'] == 'running'
        assert registry(env).get(name).status == 'running'
    finally:
        engine.send_signal(signal.SIGCONT)
    assert done.wait(120) and 'data: [DONE]' in answer
    thread.join(10)
    out = lazyllm_cli(env, 'stop', name)
    assert out.returncode == 0 and out.stdout.strip() == f'stopped {name}', out.stderr
    assert wait_until(lambda: not alive(rec['pid']) and not alive(engine.pid), timeout=30)
    assert ps(env, '--all')[name]['status'] == 'stopped'


def test_failed_is_rechecked_and_stop_ends_a_live_failed_row(env, tiny_llm_path):
    name = f'zf-failed-{os.getpid()}'
    rec = deploy(env, tiny_llm_path, name)
    registry(env).update(name, status='failed')   # what an old probe timeout wrote, for good
    assert ps(env)[name]['status'] == 'running'             # its process lives
    registry(env).update(name, status='failed')
    out = lazyllm_cli(env, 'stop', name)
    assert out.returncode == 0 and out.stdout.strip() == f'stopped {name}', out.stdout
    assert wait_until(lambda: not alive(rec['pid']), timeout=30)
    assert ps(env, '--all')[name]['status'] == 'stopped'
    registry(env).update(name, status='running')  # a row whose process is gone: failed
    assert ps(env, '--all')[name]['status'] == 'failed'


def test_a_keyed_deployment_stops_without_the_key(env, tiny_llm_path):
    name = f'zf-keyed-{os.getpid()}'
    rec = deploy(env, tiny_llm_path, name, LAZYLLM_ENGINE_API_KEY=KEY)
    assert httpx.get(rec['url'] + 'models', timeout=5).status_code == 401   # keyed indeed
    assert 'LAZYLLM_ENGINE_API_KEY' not in env
    assert ps(env)[name]['status'] == 'running'
    out = lazyllm_cli(env, 'stop', name)
    assert out.returncode == 0 and out.stdout.strip() == f'stopped {name}', out.stderr
    assert wait_until(lambda: processes_of(name) == [] and not alive(rec['pid']), timeout=30)
