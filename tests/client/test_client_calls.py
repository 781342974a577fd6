"""Happy paths of the blocking client against the real test server."""
import json
import struct

import pytest

from lazyllm.client import ChatResult, Client, CompletionResult
from lazyllm.errors import InputError
from tests.servers.openai_server import embed_vector, rerank_score

MSGS = [{'role': 'system', 'content': 'be brief'}, {'role': 'user', 'content': 'hello big world'}]


def test_chat_returns_the_whole_answer(client, server):
    r = client.chat(MSGS)
    assert isinstance(r, ChatResult)
    assert r.content == 'hello big world'
    assert (r.reasoning_content, r.tool_calls, r.finish_reason) == ('', [], 'stop')
    assert r.usage == {'prompt_tokens': 5, 'completion_tokens': 3, 'total_tokens': 8}
    assert r.model == 'echo-model'
    assert r.raw['object'] == 'chat.completion'
    (req,) = server.requests
    assert (req.method, req.path) == ('POST', '/v1/chat/completions')
    assert req.json == {'messages': MSGS}  # model=None is omitted, no stream key


def test_model_and_params_go_into_the_body_as_is(client, server):
    tools = [{'type': 'function', 'function': {'name': 'f', 'parameters': {}}}]
    client.chat(MSGS, model='m1', temperature=0.2, max_tokens=2, stop=['x'], tools=tools,
                tool_choice='none')
    assert server.requests[0].json == {'messages': MSGS, 'model': 'm1', 'temperature': 0.2,
                                       'max_tokens': 2, 'stop': ['x'], 'tools': tools,
                                       'tool_choice': 'none'}


def test_max_tokens_is_honoured_by_the_server(client):
    r = client.chat(MSGS, max_tokens=2)
    assert (r.content, r.finish_reason) == ('hello big ', 'length')


def test_a_str_is_one_user_message(client, server):
    assert client.chat('just this').content == 'just this'
    assert server.requests[0].json['messages'] == [{'role': 'user', 'content': 'just this'}]


def test_reasoning_and_tool_calls_of_a_whole_answer(client):
    tools = [{'type': 'function', 'function': {'name': 'lookup', 'parameters': {}}}]
    r = client.chat('find it', model='reasoner', tools=tools)
    assert r.reasoning_content == 'Thinking about: find it'
    assert r.tool_calls == [{'id': 'call_0', 'type': 'function', 'function': {
        'name': 'lookup', 'arguments': json.dumps({'text': 'find it'})}}]
    assert (r.content, r.finish_reason, r.model) == ('', 'tool_calls', 'reasoner')


def test_authorization_user_agent_and_extra_headers_are_sent(keyed_server, key):
    with Client(keyed_server.base_url, api_key=key, headers={'X-Trace': 't-1'}) as c:
        assert c.chat('hi').content == 'hi'
    h = keyed_server.requests[0].headers
    assert h['authorization'] == f'Bearer {key}'
    assert h['x-trace'] == 't-1'
    assert h['user-agent'].startswith('lazyllm/')
    assert h['content-type'] == 'application/json'


def test_no_authorization_header_without_a_key(client, server):
    client.chat('hi')
    assert 'authorization' not in server.requests[0].headers


def test_calls_reuse_one_kept_alive_connection(client, server):
    for _ in range(5):
        client.chat('hi')
    client.embed('x')
    list(client.stream_chat('a b c'))
    client.chat('again')
    ports = {r.client_port for r in server.requests}
    assert len(server.requests) == 8 and len(ports) == 1


def test_complete(client, server):
    r = client.complete('once upon a time', model='m', max_tokens=3)
    assert isinstance(r, CompletionResult)
    assert (r.text, r.finish_reason) == ('once upon a ', 'length')
    assert r.usage['completion_tokens'] == 3
    assert server.requests[0].path == '/v1/completions'
    assert server.requests[0].json == {'prompt': 'once upon a time', 'model': 'm',
                                       'max_tokens': 3}


def test_embed_is_ordered_by_index(client, server):
    texts = ['alpha', 'beta', 'gamma', 'delta']
    vectors = client.embed(texts, model='e')
    assert vectors == [embed_vector(t) for t in texts]  # the server answers in reverse order
    assert server.requests[0].json == {'input': texts, 'model': 'e'}


def test_embed_one_str_gives_one_vector(client, server):
    assert client.embed('solo', dimensions=4) == [embed_vector('solo', 4)]
    assert server.requests[0].json == {'input': ['solo'], 'dimensions': 4}


def test_embed_base64_is_decoded(client):
    vectors = client.embed(['a', 'b'], encoding_format='base64')
    for got, text in zip(vectors, ['a', 'b']):
        want = struct.unpack('<8f', struct.pack('<8f', *embed_vector(text)))
        assert got == list(want)  # float32 precision: what base64 of float32 can carry


def test_rerank_results_best_first_with_top_n(client, server):
    docs = ['cats purr', 'dogs bark at cats', 'birds sing', 'dogs bark']
    ranked = client.rerank('dogs bark', docs, model='r', top_n=2)
    assert ranked == [(1, 1.0), (3, 1.0)]
    assert server.requests[0].json == {'query': 'dogs bark', 'documents': docs, 'model': 'r',
                                       'top_n': 2}
    full = client.rerank('dogs bark', docs)
    assert [i for i, _ in full] == [1, 3, 0, 2]
    assert [s for _, s in full] == [rerank_score('dogs bark', docs[i]) for i in [1, 3, 0, 2]]


def test_rerank_data_shape_is_sorted_by_the_client(server):
    server.rerank_shape = 'data'  # {"data": [{"index", "score"}]} in document order
    with Client(server.base_url) as c:
        ranked = c.rerank('b', ['a', 'b', 'a b c'], top_n=2)
    assert ranked == [(1, 1.0), (2, 1.0)]


def test_rerank_without_documents_is_empty_without_a_request(client, server):
    assert client.rerank('q', []) == []
    assert server.requests == []


def test_models(client, server):
    assert client.models() == ['echo-model']
    assert (server.requests[0].method, server.requests[0].path) == ('GET', '/v1/models')


def test_request_escape_hatch(client, server):
    body = {'messages': [{'role': 'user', 'content': 'raw'}]}
    answer = client.request('POST', 'chat/completions', json=body)
    assert answer['choices'][0]['message']['content'] == 'raw'
    assert client.request('GET', '/health') == {}
    assert server.requests[0].json == body


def test_repr_shows_settings_but_never_the_key(server, key):
    with Client(server.base_url, api_key=key, timeout=12, max_retries=1) as c:
        text = repr(c)
    assert key not in text and '***' in text
    assert server.base_url in text and '12s' in text and 'max_retries=1' in text


def test_a_local_endpoint_ignores_proxy_variables(server, monkeypatch):
    monkeypatch.setenv('HTTP_PROXY', 'http://127.0.0.1:9')  # a proxy that does not exist
    monkeypatch.setenv('ALL_PROXY', 'http://127.0.0.1:9')
    with Client(server.base_url, max_retries=0) as c:
        assert c.chat('direct').content == 'direct'


def test_a_closed_client_says_so(server):
    c = Client(server.base_url)
    c.close()
    with pytest.raises(InputError, match='is closed: create a new one'):
        c.chat('hi')
