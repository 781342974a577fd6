"""Fixtures of the client tests: a real OpenAI-compatible server on 127.0.0.1 per test."""
from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # so that `tests.servers` imports under any pytest rootdir
    sys.path.insert(0, str(ROOT))

from lazyllm.client import Client  # noqa: E402
from tests.servers.openai_server import OpenAIServer  # noqa: E402
from tests.support import threads  # noqa: E402

KEY = 'sk-test-0123456789abcdef'


@pytest.fixture
def key():
    """The API key the ``keyed_server`` expects."""
    return KEY


@pytest.fixture
def server():
    with OpenAIServer() as srv:
        yield srv


@pytest.fixture
def keyed_server():
    """A server that answers 401 unless ``Authorization: Bearer KEY``."""
    with OpenAIServer(api_key=KEY) as srv:
        yield srv


@pytest.fixture
def client(server):
    with Client(server.base_url, timeout=10, max_retries=3) as c:
        yield c


@pytest.fixture
def dead_url():
    """A URL where nothing listens: the port is bound (so no one else takes it) but not
    listening, so every connect is refused."""
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    try:
        yield f'http://127.0.0.1:{sock.getsockname()[1]}'
    finally:
        sock.close()


no_leftover_server_threads = pytest.fixture(autouse=True)(threads.no_leftover_server_threads)
