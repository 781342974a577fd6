"""Streaming over real SSE: deltas, usage, reasoning, tool calls, cuts and error events."""
import json
import time

import pytest

from lazyllm.client import ChatDelta, ChatResult, Client
from lazyllm.errors import EndpointTimeout, OnlineAPIError, StreamInterrupted

TOOLS = [{'type': 'function', 'function': {'name': 'search', 'parameters': {}}}]


def test_stream_chat_yields_the_words_as_they_come(client, server):
    deltas = list(client.stream_chat('one two three four'))
    assert all(isinstance(d, ChatDelta) for d in deltas)
    assert [d.content for d in deltas] == ['', 'one ', 'two ', 'three ', 'four', '']
    assert [d.finish_reason for d in deltas][-1] == 'stop'
    assert all(d.usage is None for d in deltas)
    assert server.requests[0].json == {'messages': [{'role': 'user',
                                                     'content': 'one two three four'}],
                                       'stream': True}


def test_usage_arrives_in_a_final_chunk_without_choices(client):
    deltas = list(client.stream_chat('a b c', stream_options={'include_usage': True}))
    last = deltas[-1]
    assert (last.content, last.raw['choices']) == ('', [])
    assert last.usage == {'prompt_tokens': 3, 'completion_tokens': 3, 'total_tokens': 6}
    r = ChatResult.from_deltas(deltas)
    assert (r.content, r.finish_reason, r.usage, r.model) == (
        'a b c', 'stop', last.usage, 'echo-model')


def test_reasoning_and_tool_call_deltas_merge_into_a_result(client):
    deltas = list(client.stream_chat('look up cats', model='reasoner', tools=TOOLS))
    reasoning = [d.reasoning_content for d in deltas if d.reasoning_content]
    assert reasoning == ['Thinking ', 'about: ', 'look ', 'up ', 'cats']
    fragments = [tc for d in deltas for tc in d.tool_calls]
    assert len(fragments) > 3 and fragments[0]['function']['name'] == 'search'
    assert all('name' not in f['function'] for f in fragments[1:])  # partial, as sent
    r = ChatResult.from_deltas(deltas)
    assert r.reasoning_content == 'Thinking about: look up cats'
    assert r.tool_calls == [{'id': 'call_0', 'type': 'function', 'function': {
        'name': 'search', 'arguments': json.dumps({'text': 'look up cats'})}}]
    assert (r.content, r.finish_reason) == ('', 'tool_calls')


def test_stream_complete(client, server):
    deltas = list(client.stream_complete('to be or not', max_tokens=3))
    assert ''.join(d.content for d in deltas) == 'to be or '
    assert deltas[-1].finish_reason == 'length'
    assert server.requests[0].path == '/v1/completions'
    assert server.requests[0].json['stream'] is True


def test_the_request_is_sent_when_iteration_starts(client, server):
    stream = client.stream_chat('later')
    assert server.requests == []
    assert next(stream).content == ''
    assert len(server.requests) == 1
    stream.close()


def test_an_abandoned_stream_leaves_the_client_usable(client):
    for d in client.stream_chat('a b c d e f'):
        if d.content:
            break
    assert client.chat('still fine').content == 'still fine'


def test_a_cut_stream_raises_with_the_partial_text_and_is_not_retried(client, server):
    server.cut_stream(after=2)
    got = []
    with pytest.raises(StreamInterrupted) as e:
        for d in client.stream_chat('alpha beta gamma delta'):
            got.append(d.content)
    assert got == ['', 'alpha ', 'beta ']
    assert e.value.received == 'alpha beta '
    assert e.value.url == server.base_url + 'chat/completions'
    assert '11 characters' in str(e.value) and server.base_url in str(e.value)
    assert server.count('/chat/completions') == 1


def test_an_error_event_mid_stream_raises_online_api_error(client, server):
    server.error_event(after=1)
    got = []
    with pytest.raises(OnlineAPIError) as e:
        for d in client.stream_chat('alpha beta gamma'):
            got.append(d.content)
    assert got == ['', 'alpha ']
    assert e.value.status == 500
    assert 'injected mid-stream error' in str(e.value) and 'mid-stream' in str(e.value)
    assert server.count() == 1


def test_a_stream_that_ends_with_finish_reason_but_no_done_is_fine(client, server):
    server.send_done = False
    deltas = list(client.stream_chat('x y'))
    assert ''.join(d.content for d in deltas) == 'x y'
    assert deltas[-1].finish_reason == 'stop'


def test_slow_chunks_hit_the_total_timeout(server):
    server.slow(chunk_delay=0.3)
    with Client(server.base_url, timeout=0.5) as c:
        got = []
        t0 = time.monotonic()
        with pytest.raises(EndpointTimeout) as e:
            for d in c.stream_chat('a b c d e f g h'):
                got.append(d.content)
        elapsed = time.monotonic() - t0
    assert 0.5 <= elapsed < 1.5
    assert 0 < len(got) < 10  # some output came before the deadline
    assert 'timeout=0.5' in str(e.value) and 'LAZYLLM_TIMEOUT' in str(e.value)


def test_a_stream_retries_an_error_status_before_any_output(client, server):
    server.fail(503)
    assert ''.join(d.content for d in client.stream_chat('ok now')) == 'ok now'
    assert server.count() == 2
