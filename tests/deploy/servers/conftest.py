"""Engine processes for the server tests: the real ``python -m lazyllm.deploy.servers KIND``
on 127.0.0.1 and a free port, probed over HTTP until ready, stopped at the end of the module.

Starting one costs ~10 s (importing sentence-transformers), so each test module starts its
server once (``engines`` is module-scoped), the tests share it, and a module starts its slow
things together (its engine, the failing engine, the in-process reference model): 2 cores.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from lazyllm.deploy.servers._app import API_KEY_ENV

API_KEY = 'test-engine-key-123'
READY_TIMEOUT = 120.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def engine_argv(kind: str, model: Path | str, port: int, *extra: str) -> list[str]:
    return [sys.executable, '-m', 'lazyllm.deploy.servers', kind, '--model', str(model),
            '--host', '127.0.0.1', '--port', str(port), '--served-model-name', f'test-{kind}',
            *extra]


def engine_env(api_key: str | None = None) -> dict:
    """Offline (no hub), and the API key only when the test asks for one."""
    env = {k: v for k, v in os.environ.items() if k != API_KEY_ENV}
    env.update(HF_HUB_OFFLINE='1', TRANSFORMERS_OFFLINE='1')
    if api_key:
        env[API_KEY_ENV] = api_key
    return env


@dataclass
class Engine:
    """A running engine process: ``url`` is the server root, ``log`` its stderr file."""
    proc: subprocess.Popen
    url: str
    log: Path
    api_key: str | None = None

    def log_tail(self, lines: int = 40) -> str:
        return '\n'.join(self.log.read_text(errors='replace').splitlines()[-lines:])

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> Engine:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f'engine exited with {self.proc.returncode} before it was ready:\n'
                            f'{self.log_tail()}')
            try:
                if httpx.get(self.url + '/health', timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        pytest.fail(f'engine not ready after {timeout:.0f}s:\n{self.log_tail()}')

    def headers(self) -> dict:
        return {'Authorization': f'Bearer {self.api_key}'} if self.api_key else {}

    def post(self, path: str, body: object) -> httpx.Response:
        return httpx.post(self.url + path, json=body, headers=self.headers(), timeout=60)

    def get(self, path: str) -> dict:
        return httpx.get(self.url + path, headers=self.headers(), timeout=10).json()

    def stats(self) -> dict:
        return self.get('/stats')

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(15)


class Engines:
    """Starts engine processes and stops them all at the end of the module."""

    def __init__(self, tmp_path_factory):
        self.tmp, self.procs = tmp_path_factory, []

    def start(self, kind: str, model: Path | str, *flags: str, api_key: str | None = None,
              wait: bool = True) -> Engine:
        """An engine (ready unless ``wait=False``); with ``api_key`` it gets it as
        LAZYLLM_ENGINE_API_KEY (env, never argv)."""
        port = free_port()
        log = self.tmp.mktemp(f'{kind}-engine') / 'stderr.log'
        with open(log, 'wb') as out:
            proc = subprocess.Popen(engine_argv(kind, model, port, *flags),
                                    env=engine_env(api_key), stdout=out,
                                    stderr=subprocess.STDOUT)
        self.procs.append(proc)
        engine = Engine(proc, f'http://127.0.0.1:{port}', log, api_key)
        return engine.wait_ready() if wait else engine

    def start_failing(self, kind: str, folder: Path) -> subprocess.Popen:
        """An engine on a folder that is not a model; check it with assert_fails_in_one_line.
        Started early so that it runs while the module's own engine is starting."""
        proc = subprocess.Popen(engine_argv(kind, folder, free_port()), env=engine_env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)


@pytest.fixture(scope='module')
def engines(tmp_path_factory):
    started = Engines(tmp_path_factory)
    yield started
    started.stop_all()


@pytest.fixture(scope='session')
def not_a_model(tmp_path_factory) -> Path:
    """A folder that exists but holds no model."""
    folder = tmp_path_factory.mktemp('not-a-model')
    (folder / 'README.md').write_text('just notes, no weights\n')
    return folder


def assert_fails_in_one_line(proc: subprocess.Popen, folder: Path) -> None:
    """The engine must exit non-zero with exactly one 'lazyllm engine error:' line."""
    _, err = proc.communicate(timeout=120)
    lines = [x for x in err.splitlines() if x.startswith('lazyllm engine error:')]
    assert proc.returncode != 0, err[-2000:]
    assert len(lines) == 1, err[-2000:]
    assert str(folder) in lines[0]


def assert_401_without_the_key(engine: Engine, path: str, body: object) -> None:
    assert httpx.post(engine.url + path, json=body, timeout=10).status_code == 401
    wrong = httpx.post(engine.url + path, json=body, timeout=10,
                       headers={'Authorization': 'Bearer wrong-key'})
    assert wrong.status_code == 401
    assert 'API key' in wrong.json()['error']['message']
    assert httpx.get(engine.url + '/health', timeout=10).status_code == 200   # exempt

