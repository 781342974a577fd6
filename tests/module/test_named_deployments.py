"""Named deployments shared by processes: attach-or-launch by name through the registry."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import psutil
import pytest

import lazyllm
from lazyllm.errors import InputError
from tests.support.procs import alive, wait_until

ROOT = Path(__file__).resolve().parents[2]
ENGINE = 'lazyllm.deploy.servers'


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A registry of its own for each test (the same home for the subprocesses)."""
    monkeypatch.setenv('LAZYLLM_HOME', str(tmp_path))
    yield tmp_path
    for rec in lazyllm.deployments():          # end whatever a test left running
        if rec.status == 'running' and rec.pid:
            from lazyllm.launch import LocalJob
            LocalJob.attach(rec.pid, log_path=rec.log_path).stop()


def engines():
    """Engine processes on this machine (not their launcher watchdogs)."""
    found = []
    for p in psutil.process_iter(['cmdline']):
        try:
            cmd = ' '.join(p.info['cmdline'] or [])
            if ENGINE in cmd and '_watchdog.py' not in cmd:
                found.append(p.pid)
        except psutil.Error:
            pass
    return found


def run_script(body: str, *args: str, wait: bool = True, timeout: float = 180) -> Any:
    code = 'import sys, lazyllm\n' + textwrap.dedent(body)
    cmd = [sys.executable, '-c', code, *args]
    if not wait:
        return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=os.environ.copy())
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                         env=os.environ.copy())
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


START = '''
m = lazyllm.TrainableModule(sys.argv[1]).deploy_method(lazyllm.deploy.transformers)
m.start(name=sys.argv[2], detach=sys.argv[3] == 'detach')
print(m.deployment.job.pid if m.deployment.job else 'attached', m.url, flush=True)
'''


def _module(path):
    return lazyllm.TrainableModule(str(path)).deploy_method(lazyllm.deploy.transformers)


def test_a_second_process_attaches_instead_of_launching(home, tiny_llm_path):
    before = set(engines())
    first = _module(tiny_llm_path).start(name='tiny')
    try:
        out = run_script(START, str(tiny_llm_path), 'tiny', 'attach')
        assert out.split()[0] == 'attached' and out.split()[1] == first.url
        assert len(set(engines()) - before) == 1                  # one engine in total
        rec = {r.name: r for r in lazyllm.deployments()}['tiny']
        assert rec.status == 'running' and rec.pid == first.deployment.job.pid
        assert rec.url == first.url and rec.type == 'llm' and rec.engine == 'transformers'
    finally:
        first.stop()
    assert {r.name: r.status for r in lazyllm.deployments()} == {'tiny': 'stopped'}


def test_a_detached_deployment_outlives_its_starter(home, tiny_llm_path):
    out = run_script(START, str(tiny_llm_path), 'kept', 'detach')
    pid = int(out.split()[0])
    assert alive(pid)                                  # the starter exited, the engine runs
    m = lazyllm.connect('kept')
    assert m('hello', max_tokens=3, temperature=0)
    m.stop()                                           # an attached module only detaches
    assert alive(pid)
    again = lazyllm.connect('kept')
    again.stop(force=True)                             # ends the engine
    assert wait_until(lambda: not alive(pid), timeout=15)
    assert {r.name: r.status for r in lazyllm.deployments()} == {'kept': 'stopped'}


def test_a_killed_engine_is_relaunched_and_the_row_updated(home, tiny_llm_path):
    out = run_script(START, str(tiny_llm_path), 'phoenix', 'detach')
    pid = int(out.split()[0])
    os.killpg(pid, 9)
    assert wait_until(lambda: not alive(pid), timeout=10)
    m = _module(tiny_llm_path).start(name='phoenix')
    try:
        assert m.deployment.job is not None and m.deployment.job.pid != pid
        rec = {r.name: r for r in lazyllm.deployments()}['phoenix']
        assert rec.pid == m.deployment.job.pid and rec.status == 'running'
    finally:
        m.stop()


def test_two_processes_racing_for_one_name_end_with_one_engine(home, tiny_llm_path):
    before = set(engines())
    racers = [run_script(START + 'import time; time.sleep(30)\n', str(tiny_llm_path), 'race',
                         'attach', wait=False) for _ in range(2)]
    try:
        lines = [p.stdout.readline().split() for p in racers]
        assert sorted(line[0] == 'attached' for line in lines) == [False, True], lines
        assert len(set(engines()) - before) == 1
    finally:
        for p in racers:
            p.kill()
            p.wait()


def test_the_same_name_with_another_configuration_replaces_it(home, tiny_llm_path):
    """Blue-green by name: the new configuration is launched beside the old engine, the row
    moves to it, the old engine ends, and its former owner follows the name."""
    m = _module(tiny_llm_path).start(name='cfg')
    old_job, old_url = m.deployment.job, m.url
    other = lazyllm.TrainableModule(str(tiny_llm_path)).deploy_method(
        lazyllm.deploy.transformers, max_batch=2)
    try:
        other.start(name='cfg')
        assert other.deployment.job is not None and other.url != old_url
        rec = {r.name: r for r in lazyllm.deployments()}['cfg']
        assert (rec.url, rec.pid, rec.options) == (other.url, other.deployment.job.pid,
                                                   {'max_batch': 2})
        assert old_job.ended
        assert m('hi', max_tokens=2, temperature=0) == other('hi', max_tokens=2, temperature=0)
        assert m.url == other.url and m.deployment.job is None     # it followed the name
        m.stop()                              # the former owner leaves the new row alone
        assert {r.name: r for r in lazyllm.deployments()}['cfg'].status == 'running'
    finally:
        other.stop()
        m.stop()


def test_an_unnamed_start_with_reuse_attaches_to_the_same_configuration(home, tiny_llm_path):
    first = _module(tiny_llm_path).start(name='somename')
    try:
        again = _module(tiny_llm_path).start(reuse=True)
        assert again.deployment.job is None and again.url == first.url
        again.stop()
        other = lazyllm.TrainableModule(str(tiny_llm_path)).deploy_method(
            lazyllm.deploy.transformers, max_batch=2).start(reuse=True)
        try:                       # another configuration: launched, under the folder's name
            assert other.deployment.job is not None and other.url != first.url
            names = {r.name for r in lazyllm.deployments() if r.status == 'running'}
            assert names == {'somename', tiny_llm_path.name}
        finally:
            other.stop()
    finally:
        first.stop()


@pytest.mark.parametrize('call, words', [
    (lambda: lazyllm.connect('nobody'), "no deployment is named 'nobody'"),
    (lambda: lazyllm.TrainableModule('/models/x').start(detach=True), 'needs a name='),
    (lambda: lazyllm.TrainableModule('/models/x').start(name='bad name!'), 'name'),
])
def test_bad_names(home, call, words):
    with pytest.raises(InputError) as e:
        call()
    assert words in str(e.value)
