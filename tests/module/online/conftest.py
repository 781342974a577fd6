"""Fixtures of the online module tests: real servers on 127.0.0.1 that speak each supplier's
wire protocol, and an environment without anybody's API keys."""
from __future__ import annotations

import pytest

from tests.servers.anthropic_server import AnthropicServer
from tests.servers.dashscope_server import DashScopeServer
from tests.servers.openai_server import OpenAIServer
from tests.support import threads

KEY = 'sk-online-test-0123456789abcdef'


@pytest.fixture(autouse=True)
def no_keys(monkeypatch):
    """No supplier key or default source leaks in from the machine running the tests."""
    from lazyllm.module.online import suppliers
    for s in suppliers.values():
        monkeypatch.delenv(s.key_env, raising=False)
    monkeypatch.delenv('LAZYLLM_DEFAULT_SOURCE', raising=False)
    yield


@pytest.fixture
def key():
    return KEY


@pytest.fixture
def openai_server():
    with OpenAIServer(api_key=KEY) as srv:
        yield srv


@pytest.fixture
def anthropic_server():
    with AnthropicServer(api_key=KEY) as srv:
        yield srv


@pytest.fixture
def dashscope_server():
    with DashScopeServer(api_key=KEY) as srv:
        yield srv


no_leftover_server_threads = pytest.fixture(autouse=True)(threads.no_leftover_server_threads)
