"""Bad input is refused before any I/O, with an InputError that says what to pass instead;
settings come from lazyllm.config when not passed."""
import math

import pytest

from lazyllm import _config
from lazyllm.client import AsyncClient, Client
from lazyllm.errors import InputError

USER = {'role': 'user', 'content': 'hi'}


@pytest.mark.parametrize('call, words', [
    (lambda c: c.chat([]), 'messages is empty'),
    (lambda c: c.chat(None), 'messages must be a list'),
    (lambda c: c.chat({'role': 'user'}), 'messages must be a list'),
    (lambda c: c.chat([{'content': 'hi'}]), "has no 'role'"),
    (lambda c: c.chat([{'role': '', 'content': 'hi'}]), "has no 'role'"),
    (lambda c: c.chat(['hi']), 'message #0 is a str'),
    (lambda c: c.chat([USER, {'role': 'user'}]), "message #1 (role 'user') has no 'content'"),
    (lambda c: c.chat([{'role': 'user', 'content': 3}]), 'content of type int'),
    (lambda c: c.chat([USER], stream=True), 'stream_chat()'),
    (lambda c: c.chat([USER], model=''), 'model must be a non-empty str'),
    (lambda c: c.chat([USER], model=3), 'model must be a non-empty str'),
    (lambda c: c.chat([USER], temperature=math.nan), 'cannot be sent as JSON'),
    (lambda c: c.chat([USER], tools={1, 2}), 'cannot be sent as JSON'),
    (lambda c: c.stream_chat([]), 'messages is empty'),
    (lambda c: c.complete(None), 'prompt must be a str'),
    (lambda c: c.complete([]), 'prompt must be a str'),
    (lambda c: c.stream_complete([1]), 'prompt must be a str'),
    (lambda c: c.embed(3), 'embedding input must be a str'),
    (lambda c: c.embed([]), 'embedding input must be a str'),
    (lambda c: c.embed(['ok', 4]), 'embedding input #1 is a int'),
    (lambda c: c.embed(['ok', None]), 'embedding input #1 is a NoneType'),
    (lambda c: c.rerank('q', 'doc'), 'documents must be a list of str'),
    (lambda c: c.rerank('q', ['a', 1]), 'documents must be a list of str'),
    (lambda c: c.rerank(None, ['a']), 'query must be a str'),
    (lambda c: c.rerank('q', ['a'], top_n=-1), 'top_n must be a positive int'),
    (lambda c: c.rerank('q', ['a'], top_n=0), 'top_n must be a positive int'),
    (lambda c: c.rerank('q', ['a'], top_n=True), 'top_n must be a positive int'),
    (lambda c: c.rerank('q', ['a'], top_n=1.5), 'top_n must be a positive int'),
    (lambda c: c.request('FETCH', 'models'), 'method must be one of'),
    (lambda c: c.request('GET', None), 'path must be a str'),
])
def test_bad_input_is_refused_before_any_request(client, server, call, words):
    with pytest.raises(InputError) as e:
        call(client)
    assert words in str(e.value)
    assert ': ' in str(e.value)  # cause, then the fix
    assert isinstance(e.value, ValueError)
    assert server.requests == []


def test_async_methods_refuse_bad_input_at_call_time(server):
    c = AsyncClient(server.base_url)
    with pytest.raises(InputError, match='messages is empty'):
        c.stream_chat([])  # no await needed: the check runs before the generator exists
    with pytest.raises(InputError, match='top_n'):
        c.rerank('q', ['a'], top_n=-3).send(None)
    assert server.requests == []


def test_an_assistant_tool_call_message_may_omit_content(client):
    msgs = [USER, {'role': 'assistant', 'tool_calls': [{'id': 'c', 'type': 'function',
                                                       'function': {'name': 'f',
                                                                    'arguments': '{}'}}]},
            {'role': 'tool', 'tool_call_id': 'c', 'content': 'result'}, USER]
    assert client.chat(msgs).content == 'hi'


@pytest.mark.parametrize('kwargs, words', [
    ({'timeout': 0}, 'timeout must be a number of seconds > 0'),
    ({'timeout': -1}, 'timeout must be'),
    ({'connect_timeout': 0}, 'connect_timeout must be'),
    ({'max_retries': -1}, 'max_retries must be an int >= 0'),
    ({'api_key': 123}, 'api_key must be a str'),
    ({'headers': {'X': 1}}, 'headers must be a dict of str to str'),
    ({'headers': ['X']}, 'headers must be a dict of str to str'),
])
def test_bad_client_options_raise_input_error(kwargs, words):
    with pytest.raises(InputError) as e:
        Client('http://127.0.0.1:9', **kwargs)
    assert words in str(e.value)


def test_settings_come_from_config_then_keywords_win(monkeypatch):
    with _config.config.override(timeout=7, connect_timeout=2, max_retries=1):
        c = Client('http://127.0.0.1:9')
        assert (c.timeout, c.connect_timeout, c.max_retries) == (7.0, 2.0, 1)
        c.close()
        c = Client('http://127.0.0.1:9', timeout=3, connect_timeout=1, max_retries=0)
        assert (c.timeout, c.connect_timeout, c.max_retries) == (3.0, 1.0, 0)
        c.close()
    monkeypatch.setenv('LAZYLLM_MAX_RETRIES', '5')
    monkeypatch.setenv('LAZYLLM_TIMEOUT', '42')
    c = Client('http://127.0.0.1:9')
    assert (c.timeout, c.max_retries) == (42.0, 5)
    c.close()
