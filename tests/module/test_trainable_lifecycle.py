"""TrainableModule lifecycle on real engine processes: start, shares, restart, stop, lazy
start, ``with``, and no orphan engine when the launching interpreter is killed.

One module-scoped TrainableModule on the tiny random Qwen2 is started and stopped by the
tests in turn (each launch costs ~5 s); every test leaves it in a state the next can use and
the fixture stops it at the end.
"""
import json
import logging
import os
import re
import select
import signal
import subprocess
import sys
import textwrap
import threading
import time

import httpx
import psutil
import pytest

import lazyllm
from tests.support.procs import alive, group, wait_until

URL = re.compile(r'^http://127\.0\.0\.1:(\d+)/v1/$')


def my_engines(folder):
    """Engine processes serving ``folder`` that this interpreter launched: each is the child
    of a watchdog (a direct child of this process) and runs lazyllm.deploy.servers."""
    found = []
    for watchdog in psutil.Process().children():
        try:
            if not any(a.endswith('_watchdog.py') for a in watchdog.cmdline()):
                continue
            for engine in watchdog.children():
                argv = engine.cmdline()
                if 'lazyllm.deploy.servers' in argv and str(folder) in argv and \
                        engine.status() != psutil.STATUS_ZOMBIE:
                    found.append(engine.pid)
        except psutil.Error:
            pass
    return found


def engine_pid(module):
    (child,) = psutil.Process(module.deployment.job.pid).children()
    return child.pid


def greedy(module, text='the quick brown fox'):
    return module(text, temperature=0, max_tokens=6)


@pytest.fixture(scope='module')
def llm(tiny_llm_path):
    m = lazyllm.TrainableModule(tiny_llm_path).deploy_method(lazyllm.deploy.transformers)
    yield m
    m.stop()


def test_start_returns_when_health_answers(llm):
    llm.stop()
    assert llm.status == 'stopped' and llm.url is None
    assert llm.start() is llm
    root = llm.url[:-len('/v1/')]
    assert httpx.get(root + '/health', timeout=2).status_code == 200   # no waiting needed
    assert llm.status == 'running'
    assert URL.match(llm.url), llm.url
    assert int(URL.match(llm.url).group(1)) > 0
    card = httpx.get(llm.url + 'models', timeout=2).json()['data'][0]
    assert card['id'] == llm.deployment.served_name == os.path.basename(llm.deployment.model)
    assert isinstance(greedy(llm), str)
    assert '[running]' in repr(llm)


def test_three_shares_one_engine(llm, tiny_llm_path):
    llm.start()
    shares = [llm.share(prompt=p) for p in ('You are A', 'You are B', 'You are C')]
    for s in shares:
        s.start()
    assert my_engines(tiny_llm_path) == [engine_pid(llm)]
    assert all(s.deployment is llm.deployment and s.url == llm.url for s in shares)
    assert all(isinstance(s('hi', max_tokens=2), str) for s in shares)


def test_shares_started_from_threads_launch_one_engine(llm, tiny_llm_path):
    llm.stop()
    assert my_engines(tiny_llm_path) == []
    shares = [llm.share(temperature=0) for _ in range(3)]
    barrier = threading.Barrier(len(shares))
    errors = []

    def start(share):
        try:
            barrier.wait(5)
            share.start()
        except Exception as e:  # surfaced by the assert below
            errors.append(e)
    threads = [threading.Thread(target=start, args=(s,)) for s in shares]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert my_engines(tiny_llm_path) == [engine_pid(llm)]
    assert len({s.url for s in shares}) == 1 and llm.status == 'running'


def test_restart_gives_a_new_healthy_process(llm):
    llm.start()
    old_job, old_engine, answer = llm.deployment.job.pid, engine_pid(llm), greedy(llm)
    assert llm.restart() is llm
    assert llm.status == 'running'
    assert llm.deployment.job.pid != old_job and engine_pid(llm) != old_engine
    assert not alive(old_engine) and group(old_job) == []
    assert httpx.get(llm.url[:-len('v1/')] + 'health', timeout=2).status_code == 200
    assert greedy(llm) == answer      # same weights, greedy: the same answer


def test_stop_leaves_nothing_and_a_call_starts_again(llm, tiny_llm_path, caplog):
    llm.start()
    job, url = llm.deployment.job.pid, llm.url
    llm.stop()
    assert group(job) == [] and my_engines(tiny_llm_path) == []
    assert llm.status == 'stopped' and llm.url is None and llm.deployment.job is None
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + 'models', timeout=2)
    llm.stop()                                             # twice is fine
    assert llm.status == 'stopped'
    with caplog.at_level(logging.WARNING, logger='lazyllm'):
        assert isinstance(greedy(llm), str)                # starts again, lazily
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and
                'not started' in r.getMessage()]
    assert len(warnings) == 1, caplog.text
    assert llm.status == 'running' and my_engines(tiny_llm_path) == [engine_pid(llm)]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger='lazyllm'):
        greedy(llm)                                        # started now: no second warning
    assert not [r for r in caplog.records if 'not started' in r.getMessage()]


def test_an_engine_that_died_is_reported_and_a_call_starts_it_again(llm, tiny_llm_path,
                                                                     caplog):
    llm.start()
    job, engine = llm.deployment.job, engine_pid(llm)
    os.kill(engine, signal.SIGKILL)                        # an OOM kill, say
    assert wait_until(lambda: llm.status == 'failed', timeout=5), llm.status
    assert '[failed]' in repr(llm)
    with caplog.at_level(logging.WARNING, logger='lazyllm'):
        assert isinstance(greedy(llm), str)
    (warning,) = [r.getMessage() for r in caplog.records
                  if r.levelno == logging.WARNING and 'exited' in r.getMessage()]
    assert f'exited (code -{int(signal.SIGKILL)}' in warning, warning
    assert str(job.log_path) in warning and 'starting it again' in warning
    assert llm.status == 'running' and llm.deployment.job is not job
    assert group(job.pid) == [] and my_engines(tiny_llm_path) == [engine_pid(llm)]


def test_with_block_stops_on_exit(llm, tiny_llm_path):
    with pytest.raises(RuntimeError, match='boom'):        # also when the block raises
        with llm.start() as m:
            assert m is llm and llm.status == 'running'
            job = llm.deployment.job.pid
            assert isinstance(greedy(m), str)
            raise RuntimeError('boom')
    assert llm.status == 'stopped' and llm.deployment.job is None
    assert group(job) == [] and my_engines(tiny_llm_path) == []


CHILD = textwrap.dedent('''
    import json, sys, time, psutil, lazyllm
    m = lazyllm.TrainableModule(sys.argv[1]).start()
    job = m.deployment.job.pid
    (engine,) = psutil.Process(job).children()
    print(json.dumps({"job": job, "engine": engine.pid, "url": m.url}), flush=True)
    time.sleep(600)
''')


def test_engine_dies_with_a_killed_parent(tiny_llm_path, tmp_path):
    script = tmp_path / 'child.py'
    script.write_text(CHILD)
    child = subprocess.Popen([sys.executable, str(script), str(tiny_llm_path)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready = select.select([child.stdout], [], [], 90)[0]   # one line once started
        line = child.stdout.readline() if ready else ''
        assert line, child.stderr.read()[-3000:] if child.poll() is not None else 'no output'
        info = json.loads(line)
        assert alive(info['engine'])
        assert httpx.get(info['url'] + 'models', timeout=5).status_code == 200
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        child.stdout.close()
        child.stderr.close()
    t0 = time.monotonic()
    assert wait_until(lambda: not alive(info['engine']), timeout=10), \
        f'engine {info["engine"]} outlived its killed parent'
    took = time.monotonic() - t0
    assert took < 8, f'the engine took {took:.1f}s to stop after its parent was killed'
    assert wait_until(lambda: group(info['job']) == [], timeout=5)
    with pytest.raises(httpx.ConnectError):
        httpx.get(info['url'] + 'models', timeout=2)
