"""Progress of long commands on stderr: a spinner on a terminal, a line every
``progress_interval`` seconds without one, nothing on stdout (the command's result), and
no change for Python programs (the deploy waiter keeps logging at INFO for them)."""
from __future__ import annotations

import io
import json
import logging
import os
import pty
import re
import subprocess
import sys
import time

import pytest

from lazyllm import config
from lazyllm.cli._progress import Heartbeat, folder_bytes, human_bytes
from lazyllm.errors import ConfigError
from lazyllm.serve._readiness import EngineProgress as _Progress
from tests.servers.hf_hub_server import HFHubServer


def test_heartbeat_lines_without_a_terminal():
    out = io.StringIO()
    with config.override(progress_interval=0.2), Heartbeat('pulling x', lambda: '3 MB',
                                                           stream=out):
        time.sleep(0.9)
    lines = out.getvalue().splitlines()
    assert 3 <= len(lines) <= 5, lines
    assert all(re.fullmatch(r'pulling x \(\d+s\): 3 MB', line) for line in lines), lines


def test_quick_work_prints_nothing():
    out = io.StringIO()
    with Heartbeat('pulling x', stream=out):     # default interval: 10 s
        pass
    assert out.getvalue() == ''


def test_a_failing_status_does_not_end_the_work():
    out = io.StringIO()
    with config.override(progress_interval=0.1), Heartbeat('w', lambda: 1 / 0, stream=out):
        time.sleep(0.35)
    assert '(ZeroDivisionError)' in out.getvalue()


def _read_all(fd):
    """Everything written to the pty so far (a read may return only part of it)."""
    import select
    data = b''
    while select.select([fd], [], [], 0.5)[0]:
        data += os.read(fd, 65536)
    return data


def test_heartbeat_spins_in_place_on_a_terminal():
    leader, follower = pty.openpty()
    try:
        with open(follower, 'w', closefd=False) as tty, Heartbeat('pulling x', stream=tty):
            time.sleep(0.8)
        shown = _read_all(leader).decode()
    finally:
        os.close(leader)
        os.close(follower)
    assert shown.count('\r\x1b[K') >= 3 and '\n' not in shown, shown
    assert re.search(r'[|/\\-] pulling x \(0s\)', shown) and shown.endswith('\r\x1b[K')


def test_bad_interval_is_a_config_error():
    with config.override(progress_interval=0), pytest.raises(ConfigError,
                                                              match='must be a number'):
        Heartbeat('x')


def test_sizes():
    assert [human_bytes(n) for n in (0, 999, 1500, 2_500_000, 7e9)] == \
        ['0 B', '999 B', '1.5 kB', '2.5 MB', '7.0 GB']


def test_folder_bytes(tmp_path):
    (tmp_path / 'a').mkdir()
    (tmp_path / 'a' / 'f').write_bytes(b'x' * 10)
    (tmp_path / 'g').write_bytes(b'x' * 5)
    assert folder_bytes(tmp_path) == 15 and folder_bytes(tmp_path / 'missing') == 0


def test_deploy_waiter_logs_for_python_programs(capsys, caplog, monkeypatch):
    """Outside the CLI nothing reaches stderr: the INFO record, as before."""
    monkeypatch.setattr(_Progress, 'stderr_every', None)
    with caplog.at_level(logging.INFO, logger='lazyllm'), _Progress('vllm') as progress:
        progress.update(12, 'loading weights', log=True)
        progress.update(13, 'loading weights', log=False)
    assert capsys.readouterr().err == ''
    assert [r.getMessage() for r in caplog.records] == \
        ['waiting for the vllm engine (12s): loading weights']


def test_deploy_waiter_prints_for_the_cli(capsys, caplog, monkeypatch):
    monkeypatch.setattr(_Progress, 'stderr_every', 0.1)
    with caplog.at_level(logging.INFO, logger='lazyllm'), _Progress('vllm') as progress:
        progress.update(0.05, 'too soon', log=True)
        time.sleep(0.15)
        progress.update(12, 'loading weights', log=False)
    assert capsys.readouterr().err == 'waiting for the vllm engine (12s): loading weights\n'
    assert caplog.records == []


def cli(env, *args, timeout=300):
    return subprocess.run([sys.executable, '-m', 'lazyllm', *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=timeout)


def test_pull_shows_progress_on_stderr_and_the_folder_on_stdout(tmp_path, minilm_path):
    with HFHubServer({'test/minilm': minilm_path}) as hub:
        hub.slow(0.04)                    # MiniLM's ~90 MB take a few seconds
        env = {**os.environ, 'LAZYLLM_HOME': str(tmp_path), 'HF_ENDPOINT': hub.url,
               'MODELSCOPE_ENDPOINT': hub.url, 'HF_HOME': str(tmp_path / 'hf'),
               'LAZYLLM_MODEL_CACHE_DIR': str(tmp_path / 'cache'),
               'LAZYLLM_PROGRESS_INTERVAL': '0.5'}
        for var in ('HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE', 'LAZYLLM_MODEL_SOURCE',
                    'HF_HUB_DISABLE_PROGRESS_BARS'):
            env.pop(var, None)
        out = cli(env, 'models', 'pull', 'test/minilm', '--json')
    assert out.returncode == 0, out.stderr[-3000:]
    assert json.loads(out.stdout) == {'name': 'test/minilm',
                                      'path': str(tmp_path / 'cache' / 'test' / 'minilm')}
    lines = out.stderr.splitlines()
    progress = [line for line in lines if line.startswith('pulling test/minilm (')]
    assert len(progress) >= 2, out.stderr[-3000:]
    assert any(re.search(r'\): [\d.]+ [kM]B received$', line) for line in progress), progress
    assert '\r' not in out.stderr           # the hub client's redrawn bars are off in a log


def test_deploy_shows_the_download_then_the_wait_on_stderr(tmp_path, tiny_llm_path):
    # a model that is not cached yet: its bytes are shown arriving before the engine's wait
    with HFHubServer({'test/tiny': tiny_llm_path}) as hub:
        hub.slow(6.0)                     # its ~0.5 MB take ~3 s
        env = {**os.environ, 'LAZYLLM_HOME': str(tmp_path), 'HF_ENDPOINT': hub.url,
               'MODELSCOPE_ENDPOINT': hub.url, 'HF_HOME': str(tmp_path / 'hf'),
               'LAZYLLM_MODEL_CACHE_DIR': str(tmp_path / 'cache'),
               'LAZYLLM_PROGRESS_INTERVAL': '0.5'}
        for var in ('HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE', 'LAZYLLM_MODEL_SOURCE',
                    'HF_HUB_DISABLE_PROGRESS_BARS', 'LAZYLLM_LOG_LEVEL'):
            env.pop(var, None)
        try:
            out = cli(env, 'deploy', 'test/tiny', '--name', 'p0', '--engine', 'transformers')
        finally:
            cli(env, 'stop', '--all', timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stderr.splitlines()
    pulls = [i for i, line in enumerate(lines) if line.startswith('pulling test/tiny (')]
    waits = [i for i, line in enumerate(lines) if line.startswith('waiting for the transformers')]
    assert pulls and waits and max(pulls) < min(waits), out.stderr[-3000:]
    assert (tmp_path / 'cache' / 'test' / 'tiny').is_dir()


def test_deploy_shows_progress_on_stderr(tmp_path, tiny_llm_path):
    env = {**os.environ, 'LAZYLLM_HOME': str(tmp_path), 'LAZYLLM_PROGRESS_INTERVAL': '1'}
    env.pop('LAZYLLM_LOG_LEVEL', None)     # the default level (WARNING) shows no INFO
    try:
        out = cli(env, 'deploy', tiny_llm_path, '--name', 'p1', '--engine', 'transformers')
        assert out.returncode == 0, out.stderr[-3000:]
        assert re.match(r'p1 ready at http://\S+ \(local:\d+\)$', out.stdout.strip())
        waits = [line for line in out.stderr.splitlines()
                 if line.startswith('waiting for the transformers engine (')]
        assert waits, out.stderr[-3000:]
        assert all(re.match(r'waiting for the transformers engine \(\d+s\)', w) for w in waits)
    finally:
        cli(env, 'stop', '--all', timeout=120)
