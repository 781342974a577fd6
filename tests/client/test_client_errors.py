"""What the client raises for a broken or slow endpoint, and that keys never leak."""
import time

import pytest

from lazyllm.client import Client
from lazyllm.errors import (
    EndpointConnectError,
    EndpointError,
    EndpointTimeout,
    OnlineAPIError,
    ProtocolError,
    ServerError,
)


def test_malformed_json_is_a_protocol_error(client, server):
    server.malformed(b'{"choices": [')
    with pytest.raises(ProtocolError) as e:
        client.chat('hi')
    msg = str(e.value)
    assert 'not JSON' in msg and server.base_url + 'chat/completions' in msg
    assert 'OpenAI-compatible' in msg  # the fix
    assert isinstance(e.value.__cause__, ValueError)
    assert server.count() == 1  # not retried: the same URL would answer the same


@pytest.mark.parametrize('method, body', [
    ('chat', b'{"foo": 1}'), ('chat', b'{"choices": []}'), ('embed', b'{"data": [{"x": 1}]}'),
    ('models', b'[1, 2]'), ('rerank', b'{"results": [{"index": "a"}]}'),
    ('embed', b'{"data": []}'), ('complete', b'{"choices": [{"message": {}}]}'),
])
def test_a_body_of_the_wrong_shape_is_a_protocol_error(client, server, method, body):
    server.malformed(body)
    call = {'chat': lambda: client.chat('hi'), 'embed': lambda: client.embed('x'),
            'models': client.models, 'rerank': lambda: client.rerank('q', ['d']),
            'complete': lambda: client.complete('p')}[method]
    with pytest.raises(ProtocolError) as e:
        call()
    assert 'did not answer in the protocol expected of it' in str(e.value)


def test_an_error_object_with_status_200_is_an_api_error(client, server):
    server.error_event()  # on a non-streamed call: {"error": …} with HTTP 200
    with pytest.raises(OnlineAPIError) as e:
        client.chat('hi')
    assert 'injected error with status 200' in str(e.value)


def test_a_truncated_body_is_a_protocol_error(client, server):
    server.cut_stream()  # on a non-streamed call: the body stops half-way
    with pytest.raises(ProtocolError) as e:
        client.chat('hi')
    assert 'connection broke' in str(e.value)


def test_a_slow_server_hits_the_timeout_quickly(server):
    server.slow(delay=3)
    with Client(server.base_url, timeout=0.5) as c:
        t0 = time.monotonic()
        with pytest.raises(EndpointTimeout) as e:
            c.chat('hi')
        elapsed = time.monotonic() - t0
    assert 0.45 <= elapsed < 1.2
    msg = str(e.value)
    assert msg.startswith(f'no complete answer from {server.base_url}chat/completions within '
                          f'timeout=0.5 s: raise timeout= or LAZYLLM_TIMEOUT')
    assert isinstance(e.value, TimeoutError)
    assert server.count() == 1


def test_the_timeout_covers_retries(server):
    server.fail(500, times=2)
    server.slow(delay=3)
    with Client(server.base_url, timeout=0.6) as c, pytest.raises(EndpointTimeout):
        c.chat('hi')


def test_404_names_the_url_and_the_fix(client, server):
    with pytest.raises(OnlineAPIError) as e:
        client.request('GET', 'nowhere')
    assert e.value.status == 404 and type(e.value) is OnlineAPIError
    assert f'{server.base_url}nowhere answered HTTP 404' in str(e.value)
    assert 'check the URL' in str(e.value)
    assert server.count() == 1


def test_the_api_key_never_appears_in_errors_or_reprs(server, key):
    # the server echoes the key in its error body, and the key is also in the URL's query
    server.fail(500, times=None, body=f'{{"error": {{"message": "bad key {key}"}}}}'.encode())
    url = server.base_url + f'?api_key={key}'
    with Client(url, api_key=key, max_retries=1, headers={'X-Api-Key': key}) as c:
        assert key not in repr(c)
        with pytest.raises(ServerError) as e:
            c.chat('hi')
    err = e.value
    assert key not in str(err) and key not in err.body and key not in err.url
    assert 'bad key ***' in str(err)
    assert server.requests[0].headers['authorization'] == f'Bearer {key}'  # but it was sent


def test_a_key_is_redacted_from_connect_errors(dead_url, key):
    with Client(f'{dead_url}/v1?key={key}', api_key=key, max_retries=0) as c:
        with pytest.raises(EndpointConnectError) as e:
            c.models()
    assert key not in str(e.value) and key not in e.value.url


def test_every_endpoint_error_carries_its_url(dead_url):
    with Client(dead_url, max_retries=0) as c, pytest.raises(EndpointError) as e:
        c.embed('x')
    assert e.value.url == dead_url + '/v1/embeddings'


def test_an_unknown_host_is_a_connect_error():
    with Client('http://no-such-host.invalid:8000', max_retries=0) as c:
        with pytest.raises(EndpointConnectError) as e:
            c.models()
    assert 'no-such-host.invalid' in str(e.value)
