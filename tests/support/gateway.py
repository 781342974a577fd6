"""A ``lazyllm serve`` subprocess and what the gateway tests share: starting named engines
in the registry, the OpenAI error shape, a registry home of a module's own."""
from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import openai
import pytest

import lazyllm
from tests.support.procs import alive

ROOT = Path(__file__).resolve().parents[2]
ANNOUNCE = re.compile(r'lazyllm serve: the OpenAI API of every deployment at (http://\S+/v1/)')
FRANCE = [{'role': 'user', 'content': 'What is the capital of France?'}]
ERROR_KEYS = {'message', 'type', 'param', 'code'}


class Gateway:
    """A ``lazyllm serve`` subprocess. Its stdout and stderr are read to the end by threads
    (kept in ``out`` / ``err``); ``url`` is the base URL it announced on stderr, with a
    wildcard host replaced by the loopback address a client can reach."""

    def __init__(self, *args, env: dict | None = None):
        self.proc = subprocess.Popen(
            [sys.executable, '-m', 'lazyllm', 'serve', '--port', '0', *map(str, args)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, **(env or {})})
        self.out: list[str] = []
        self.err: list[str] = []
        found: queue.Queue = queue.Queue()
        self._threads = [threading.Thread(target=self._drain, args=(self.proc.stdout, self.out,
                                                                    None), daemon=True),
                         threading.Thread(target=self._drain, args=(self.proc.stderr, self.err,
                                                                    found), daemon=True)]
        for t in self._threads:
            t.start()
        try:
            url = found.get(timeout=120)
        except queue.Empty:
            url = None
        if url is None:
            self.stop()
            pytest.fail(f'lazyllm serve did not announce its URL: {self.text[-3000:]}')
        self.url = url.replace('://0.0.0.0:', '://127.0.0.1:')
        self.root = self.url.removesuffix('/v1/')

    @staticmethod
    def _drain(stream, lines: list, found: queue.Queue | None) -> None:
        for line in stream:
            lines.append(line)
            m = ANNOUNCE.search(line)
            if found is not None and m:
                found.put(m.group(1))
        if found is not None:
            found.put(None)        # ended without announcing (read only if nothing came)

    @property
    def text(self) -> str:
        return ''.join(self.out) + ''.join(self.err)

    def mark(self) -> tuple[int, int]:
        return len(self.out), len(self.err)

    def since(self, mark: tuple[int, int]) -> str:
        """What it printed after ``mark()`` (a test checks only its own requests)."""
        return ''.join(self.out[mark[0]:]) + ''.join(self.err[mark[1]:])

    def client(self, api_key: str = 'x', **kw) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.url, api_key=api_key, max_retries=0, timeout=120,
                             **kw)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()               # uvicorn's graceful shutdown
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:      # graceful shutdown waits for calls
                print('lazyllm serve still ran 20 s after SIGTERM: killed')
                self.proc.kill()
                self.proc.wait(10)
        for t in self._threads:
            t.join(10)
        return self.proc.returncode


def error_of(response: httpx.Response) -> dict:
    """The ``error`` object of an answer in OpenAI's error shape (and nothing else)."""
    assert response.headers['content-type'].startswith('application/json'), response.text
    body = response.json()
    assert set(body) == {'error'} and set(body['error']) == ERROR_KEYS, body
    assert isinstance(body['error']['message'], str) and body['error']['message']
    return body['error']


def start_named(path, name: str, llm: bool = False):
    m = lazyllm.TrainableModule(str(path))
    if llm:
        m = m.deploy_method(lazyllm.deploy.transformers)
    return m.start(name=name, detach=True)


def direct_url(name: str) -> str:
    """The engine's own base URL, as the registry records it."""
    return {r.name: r for r in lazyllm.deployments()}[name].url


def stop_leftovers() -> None:
    """Stop whatever deployment a failed test left running in this LAZYLLM_HOME."""
    from lazyllm.launch import LocalJob
    for rec in lazyllm.deployments():
        if rec.status in ('running', 'starting') and rec.pid and alive(rec.pid):
            LocalJob.attach(rec.pid, log_path=rec.log_path).stop()
