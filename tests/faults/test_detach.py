"""`lazyllm deploy --detach` followed at once by `ps` and `stop`: the row is there before the
command returns, and `stop` leaves no engine behind, whether the background deploy process
was still importing, or had launched the engine and was waiting for it to be ready."""
import os
import time

import pytest

from tests.faults.conftest_lifecycle import end_all, lazyllm_cli, processes_of, ps
from tests.support.procs import alive, wait_until


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    env = {**os.environ, 'LAZYLLM_HOME': str(tmp_path_factory.mktemp('detach-home'))}
    yield env
    end_all(env)


def detach(env, path, name):
    out = lazyllm_cli(env, 'deploy', path, '--name', name, '--engine', 'transformers',
                      '--detach', '--json', timeout=60)
    assert out.returncode == 0, out.stderr
    return out


def stop_and_check_gone(env, name):
    out = lazyllm_cli(env, 'stop', name, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == f'stopped {name}', out.stderr
    assert wait_until(lambda: processes_of(name) == [], timeout=30), processes_of(name)
    time.sleep(2)                       # nothing launches afterwards either
    assert processes_of(name) == []
    assert ps(env, '--all')[name]['status'] == 'stopped'


def test_detach_then_ps_and_stop_at_once(env, tiny_llm_path):
    name = f'zf-detach-{os.getpid()}'
    detach(env, tiny_llm_path, name)
    rec = ps(env)[name]                                     # no waiting
    assert rec['status'] == 'starting' and rec['detached'] is True
    stop_and_check_gone(env, name)


def test_stop_while_the_engine_loads(env, tiny_llm_path):
    name = f'zf-loading-{os.getpid()}'
    detach(env, tiny_llm_path, name)
    rec = wait_until(lambda: ps(env)[name] if ps(env)[name]['pid'] else None, timeout=120,
                     interval=0.2)
    assert rec and alive(rec['pid']), rec                   # launched, maybe not ready yet
    assert rec['status'] in ('starting', 'running')
    stop_and_check_gone(env, name)
    assert not alive(rec['pid'])


def test_a_detached_deployment_becomes_running(env, tiny_llm_path):
    name = f'zf-ready-{os.getpid()}'
    detach(env, tiny_llm_path, name)
    rec = wait_until(lambda: ps(env)[name]['status'] == 'running' and ps(env)[name],
                     timeout=240, interval=1)
    assert rec and rec['url'].startswith('http://127.0.0.1:'), rec
    stop_and_check_gone(env, name)
