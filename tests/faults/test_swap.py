"""Blue-green swaps lose no call: new weights (``set_specific_finetuned_model``, ``update()``)
or a new method (``deploy_method``) on a running module start a new engine beside the old
one, switch every share at once, let the old engine finish its calls, then stop it; a new
engine that fails leaves the old one serving. A second process attached by name follows.

Real engine processes (the tiny Qwen2 and a copy with other weights), real callers in
threads, in asyncio and in another interpreter; greedy answers only.
"""
import asyncio
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import lazyllm
from lazyllm.errors import DeployError
from tests.faults.conftest_lifecycle import end_all, lazyllm_cli
from tests.support.models import other_weights
from tests.support.procs import alive, wait_until

ROOT = Path(__file__).resolve().parents[2]
PROMPT = 'the swap says'


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv('LAZYLLM_HOME', str(tmp_path / 'home'))
    env = {**os.environ, 'LAZYLLM_HOME': str(tmp_path / 'home')}
    yield env
    end_all(env)


@pytest.fixture
def llm(tiny_llm_path, home):
    m = lazyllm.TrainableModule(str(tiny_llm_path)).deploy_method(lazyllm.deploy.transformers,
                                                                  max_batch=8)
    yield m.start(name='swapme')
    m.stop()


def greedy(m):
    return m(PROMPT, max_tokens=6, temperature=0)


ATTACHED = '''
import json, os, sys, time, lazyllm
m = lazyllm.connect(sys.argv[1])
ok, failed, urls = 0, [], set()
print('ready', flush=True)
while not os.path.exists(sys.argv[2]):
    try:
        m('the attached process says', max_tokens=3, temperature=0)
        ok += 1
        urls.add(m.url)
    except Exception as e:
        failed.append(f'{type(e).__module__}.{type(e).__name__}: {e}')
print(json.dumps({'ok': ok, 'failed': failed, 'urls': sorted(urls)}), flush=True)
'''


def test_new_weights_under_traffic_lose_no_call(llm, tiny_llm_path, tmp_path, home):
    """4 threads on 3 shares and another process attached by name call without pause
    through a swap to other weights: every call answers; the old engine is gone after."""
    shares = [llm.share(temperature=0), llm.share(prompt='Answer briefly.'), llm.share()]
    before, old_job, old_url = greedy(llm), llm.deployment.job, llm.url
    other = other_weights(Path(tiny_llm_path), tmp_path / 'other')
    stop_file = tmp_path / 'stop'
    attached = subprocess.Popen([sys.executable, '-c', ATTACHED, 'swapme', str(stop_file)],
                                cwd=ROOT, env=home, stdout=subprocess.PIPE, text=True)
    assert attached.stdout.readline().strip() == 'ready'
    stop, results, longest = threading.Event(), [], [0.0]

    def caller(i):
        while not stop.is_set():
            t0 = time.monotonic()
            try:
                shares[i % 3](f'caller {i}', max_tokens=4)
                results.append('ok')
            except Exception as e:   # noqa: BLE001 - every failure is counted and shown
                results.append(f'{type(e).__name__}: {e}')
            longest[0] = max(longest[0], time.monotonic() - t0)
    threads = [threading.Thread(target=caller, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(1)
        llm.set_specific_finetuned_model(other)
        time.sleep(2)
    finally:
        stop.set()
        for t in threads:
            t.join()
        stop_file.touch()
        out, _ = attached.communicate(timeout=120)
    report = json.loads(out.strip().splitlines()[-1])
    assert [r for r in results if r != 'ok'] == [] and len(results) > 8
    assert report['failed'] == [] and report['ok'] > 2
    assert report['urls'] == sorted([old_url, llm.url])        # it followed the name
    assert llm.url != old_url and old_job.ended and not alive(old_job.pid)
    assert llm.deployment.model == str(other) and greedy(llm) != before
    rec = {r.name: r for r in lazyllm.deployments()}['swapme']
    assert (rec.url, rec.path, rec.pid) == (llm.url, str(other), llm.deployment.job.pid)


def test_a_new_engine_that_fails_leaves_the_old_one_serving(llm, tiny_llm_path, tmp_path):
    broken = tmp_path / 'broken'
    shutil.copytree(tiny_llm_path, broken)
    (broken / 'model.safetensors').write_bytes(b'not safetensors')
    job, url, before = llm.deployment.job, llm.url, greedy(llm)
    with pytest.raises(DeployError, match=f'{url} keeps serving') as info:
        llm.set_specific_finetuned_model(broken)
    assert 'exited before it was ready' in str(info.value)
    assert llm.deployment.job is job and llm.url == url and greedy(llm) == before
    assert llm.deployment.model == str(tiny_llm_path)
    rec = {r.name: r for r in lazyllm.deployments()}['swapme']
    assert (rec.url, rec.pid, rec.status) == (url, job.pid, 'running')


def test_a_changed_deploy_method_swaps_and_a_stream_in_flight_finishes(llm):
    """The stream began on the old engine: it ends there (the swap drains it), while new
    calls go to the new engine."""
    old_job, before = llm.deployment.job, greedy(llm)
    stream = llm.share(stream=True).stream('a long answer', max_tokens=200, temperature=0)
    first = next(stream)
    swapper = threading.Thread(target=lambda: llm.deploy_method(lazyllm.deploy.transformers,
                                                                max_batch=2))
    swapper.start()
    assert wait_until(lambda: llm.deployment.job is not old_job, timeout=120)
    rest = ''.join(stream)                    # no StreamInterrupted: the old engine drained
    swapper.join()
    assert first + rest and old_job.ended
    assert llm.deployment.options['max_batch'] == 2 and greedy(llm) == before


def test_async_calls_cross_a_swap(llm):
    async def calls(n):
        return await asyncio.gather(*(llm.acall(f'async {i}', max_tokens=3) for i in range(n)))

    async def main():
        first = asyncio.ensure_future(calls(8))
        swap = asyncio.ensure_future(asyncio.to_thread(
            llm.deploy_method, lazyllm.deploy.transformers, max_batch=4))
        while not swap.done():
            await calls(4)
        await swap
        return await first
    old_job = llm.deployment.job
    assert all(isinstance(a, str) for a in asyncio.run(main()))
    assert old_job.ended and llm.deployment.options['max_batch'] == 4


def test_lazyllm_deploy_with_new_options_replaces_the_name(tiny_llm_path, home):
    first = lazyllm_cli(home, 'deploy', tiny_llm_path, '--name', 'cli', '--engine',
                        'transformers', '--json')
    assert first.returncode == 0, first.stderr
    old = json.loads(first.stdout)
    reader = lazyllm.connect('cli')
    second = lazyllm_cli(home, 'deploy', tiny_llm_path, '--name', 'cli', '--engine',
                         'transformers', '-o', 'max_batch=2', '--json')
    assert second.returncode == 0, second.stderr
    new = json.loads(second.stdout)
    assert new['url'] != old['url'] and new['pid'] != old['pid']
    assert wait_until(lambda: not alive(old['pid']), timeout=60)
    assert isinstance(reader('hi', max_tokens=2), str) and reader.url == new['url']
    rows = {r.name: r for r in lazyllm.deployments()}
    assert rows['cli'].options == {'max_batch': 2} and rows['cli'].status == 'running'


def test_update_in_server_mode_swaps_in_a_fresh_engine_under_traffic(llm):
    old_job, results, stop = llm.deployment.job, [], threading.Event()

    def caller():
        while not stop.is_set():
            try:
                results.append(isinstance(llm('still here?', max_tokens=2), str))
            except Exception as e:   # noqa: BLE001 - every failure is counted and shown
                results.append(f'{type(e).__name__}: {e}')
    thread = threading.Thread(target=caller)
    thread.start()
    try:
        llm.mode('server').update()
    finally:
        stop.set()
        thread.join()
    assert results and all(r is True for r in results), [r for r in results if r is not True]
    assert llm.deployment.job is not old_job and old_job.ended and llm.status == 'running'
