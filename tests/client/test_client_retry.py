"""Retries: which failures are retried, how long the client waits, and when it gives up."""
import time

import httpx
import pytest

from lazyllm.client import Client
from lazyllm.errors import AuthenticationError, EndpointConnectError, RateLimitError, ServerError


def test_429_with_retry_after_is_waited_for_then_succeeds(client, server):
    server.fail(429, retry_after=1)
    t0 = time.monotonic()
    assert client.chat('patience').content == 'patience'
    first, second = server.requests
    assert second.time - first.time >= 1.0  # the wait the server asked for was honoured
    assert time.monotonic() - t0 < 3
    assert server.count() == 2


def test_429_asking_longer_than_the_time_left_raises_at_once(server):
    server.fail(429, retry_after=30)
    with Client(server.base_url, timeout=3) as c:
        t0 = time.monotonic()
        with pytest.raises(RateLimitError) as e:
            c.chat('hi')
        assert time.monotonic() - t0 < 0.5
    assert e.value.retry_after == 30 and e.value.status == 429
    assert 'asked to wait 30 s' in str(e.value)
    assert server.count() == 1


def test_500_then_success(client, server):
    server.fail(500, times=2)
    assert client.chat('again').content == 'again'
    assert server.count() == 3


def test_500_forever_raises_server_error_after_max_retries(server):
    server.fail(500, times=None, body=b'{"error": {"message": "model crashed"}}')
    with Client(server.base_url, max_retries=2) as c:
        with pytest.raises(ServerError) as e:
            c.chat('hi')
    err = e.value
    assert err.status == 500
    assert 'model crashed' in err.body and 'model crashed' in str(err)
    assert err.url == server.base_url + 'chat/completions' and err.url in str(err)
    assert 'after 3 attempts' in str(err)
    assert server.count() == 3


def test_max_retries_zero_disables_retries(server):
    server.fail(503, times=None)
    with Client(server.base_url, max_retries=0) as c, pytest.raises(ServerError):
        c.embed('x')
    assert server.count() == 1


def test_401_is_not_retried(keyed_server):
    with Client(keyed_server.base_url, api_key='sk-wrong-key-123') as c:
        with pytest.raises(AuthenticationError) as e:
            c.chat('hi')
    assert e.value.status == 401
    assert 'api_key=' in str(e.value) and 'invalid API key' in str(e.value)
    assert keyed_server.count() == 1


def test_403_is_an_authentication_error(client, server):
    server.fail(403)
    with pytest.raises(AuthenticationError):
        client.models()
    assert server.count() == 1


def test_a_connection_closed_before_the_answer_is_retried(client, server):
    server.drop()
    assert client.chat('second try').content == 'second try'
    assert server.count() == 2


def test_connection_refused_fails_fast_with_default_settings(dead_url):
    c = Client(dead_url)
    try:
        t0 = time.monotonic()
        with pytest.raises(EndpointConnectError) as e:
            c.chat('anyone?')
        elapsed = time.monotonic() - t0
    finally:
        c.close()
    assert elapsed < 2
    assert str(e.value).startswith(f'nothing answers at {dead_url}/v1/chat/completions '
                                   f'(connection refused): start the engine')
    assert isinstance(e.value.__cause__, httpx.ConnectError)
    assert isinstance(e.value, ConnectionError)


def test_no_retry_once_the_deadline_is_near(server):
    server.fail(500, times=None)
    with Client(server.base_url, timeout=0.3, max_retries=50) as c:
        t0 = time.monotonic()
        with pytest.raises(ServerError):
            c.chat('hi')
        assert time.monotonic() - t0 < 0.5
    assert 2 <= server.count() < 50
