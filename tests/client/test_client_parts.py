"""The pure parts shared by both clients: SSE decoding, tool-call merging, retry policy."""
import email.utils
import time

import httpx
import pytest

from lazyllm.client import ChatDelta, ChatResult, merge_tool_calls
from lazyllm.client._call import Call
from lazyllm.client._errors import retry_after
from lazyllm.client._parse import chat_delta
from lazyllm.client._retry import MAX_DELAY, backoff, retry_delay
from lazyllm.client._sse import SSEDecoder
from lazyllm.errors import (
    EndpointConnectError,
    ProtocolError,
    RateLimitError,
    ServerError,
    StreamInterrupted,
)

STREAM = (b': keep-alive\r\n\r\n'
          b'data: {"a": 1}\r\n\r\n'
          b'event: message\nid: 7\ndata:{"b":\ndata: 2}\n\n'
          b'retry: 100\n: ping\n\n'
          b'event: error\ndata: {"message": "boom"}\n\n'
          b'data: [DONE]\n\n')
EVENTS = [b'{"a": 1}', b'{"b":\n2}', b'{"error":{"message": "boom"}}', b'[DONE]']


@pytest.mark.parametrize('size', [1, 2, 3, 5, 7, 16, 1000])
def test_sse_events_survive_any_split_of_the_bytes(size):
    decoder = SSEDecoder()
    out = []
    for i in range(0, len(STREAM), size):
        out += decoder.feed(STREAM[i:i + size])
    assert out + decoder.flush() == EVENTS


def test_sse_flush_returns_an_event_cut_before_its_blank_line():
    decoder = SSEDecoder()
    assert decoder.feed(b'data: {"x": 1}\n\ndata: {"y"') == [b'{"x": 1}']
    assert decoder.flush() == [b'{"y"']
    assert decoder.flush() == []


def test_sse_utf8_split_inside_a_character():
    data = 'data: {"t": "héllo 世界"}\n\n'.encode()
    decoder = SSEDecoder()
    out = [e for i in range(len(data)) for e in decoder.feed(data[i:i + 1])]
    assert out == ['{"t": "héllo 世界"}'.encode()]


def test_merge_tool_calls_by_index_and_without_index():
    frags = [
        {'index': 1, 'id': 'b', 'type': 'function', 'function': {'name': 'g', 'arguments': ''}},
        {'index': 0, 'id': 'a', 'type': 'function', 'function': {'name': 'f', 'arguments': '{"'}},
        {'index': 0, 'function': {'arguments': 'x": 1}'}},
        {'index': 1, 'function': {'name': 'g', 'arguments': '{}'}},  # name resent: kept once
    ]
    assert merge_tool_calls(frags) == [
        {'id': 'a', 'type': 'function', 'function': {'name': 'f', 'arguments': '{"x": 1}'}},
        {'id': 'b', 'type': 'function', 'function': {'name': 'g', 'arguments': '{}'}}]
    no_index = [{'id': 'a', 'function': {'name': 'f', 'arguments': '{'}},
                {'function': {'arguments': '}'}},
                {'id': 'b', 'function': {'name': 'g', 'arguments': {'k': 1}}}]
    merged = merge_tool_calls(no_index)
    assert [(c['id'], c['function']['arguments']) for c in merged] == [('a', '{}'),
                                                                       ('b', '{"k": 1}')]


def test_from_deltas_accumulates_everything():
    deltas = [ChatDelta(raw={'model': 'm'}), ChatDelta('Hel', 'th', raw={'model': 'm'}),
              ChatDelta('lo', 'ink', [{'index': 0, 'id': 'c', 'function': {'name': 'f'}}]),
              ChatDelta(finish_reason='stop'), ChatDelta(usage={'total_tokens': 3})]
    r = ChatResult.from_deltas(deltas)
    assert (r.content, r.reasoning_content, r.finish_reason, r.usage, r.model) == (
        'Hello', 'think', 'stop', {'total_tokens': 3}, 'm')
    assert r.tool_calls == [{'id': 'c', 'type': 'function',
                             'function': {'name': 'f', 'arguments': ''}}]
    assert ChatResult.from_deltas([]) == ChatResult()


def test_chat_delta_shapes():
    assert chat_delta({'choices': [], 'usage': None}) is None
    d = chat_delta({'choices': [{'delta': {'reasoning': 'r'}, 'finish_reason': None}]})
    assert d.reasoning_content == 'r'


def test_backoff_is_capped_exponential_with_jitter():
    for retry in range(12):
        nominal = min(MAX_DELAY, 0.1 * 2 ** retry)
        samples = [backoff(retry) for _ in range(50)]
        assert all(nominal / 2 <= s <= nominal for s in samples)
        assert len(set(samples)) > 1  # jitter
    assert backoff(30) <= MAX_DELAY


def test_retry_delay_decisions():
    conn = EndpointConnectError('x')
    assert 0.05 <= retry_delay(conn, 0, 3, 10) <= 0.1
    assert retry_delay(conn, 3, 3, 10) is None  # retries used up
    assert retry_delay(ProtocolError('x'), 0, 3, 10) is None  # not retriable
    assert retry_delay(ServerError('x', status=500), 0, 3, 0.01) is None  # no time left
    assert retry_delay(RateLimitError('x', retry_after=2.5), 0, 3, 10) == 2.5
    assert retry_delay(RateLimitError('x', retry_after=20), 0, 3, 10) is None


def test_retry_after_header_forms():
    assert retry_after({'retry-after': '3'}) == 3
    assert retry_after({'retry-after': '0.5'}) == 0.5
    assert retry_after({'retry-after-ms': '250', 'retry-after': '9'}) == 0.25
    date = email.utils.formatdate(time.time() + 10, usegmt=True)
    assert 8 < retry_after({'retry-after': date}) <= 10
    assert retry_after({'retry-after': 'soon'}) is None
    assert retry_after({}) is None


def _reader():
    call = Call('POST', httpx.URL('http://h/v1/chat/completions'), b'{}', chat_delta,
                timeout=10, connect_timeout=1, max_retries=0, secrets=())
    call.request_timeout()  # starts the clock
    return call.reader()


def test_a_stream_closed_cleanly_without_done_or_finish_is_interrupted():
    reader = _reader()
    deltas = reader.feed(b'data: {"choices": [{"delta": {"content": "par"}}]}\n\n'
                         b'data: {"choices": [{"delta": {"content": "tial"}}]}')
    assert [d.content for d in deltas] == ['par']
    with pytest.raises(StreamInterrupted) as e:
        reader.end()
    assert e.value.received == 'partial'  # the last event, flushed at the end, is counted


def test_data_after_done_is_ignored():
    reader = _reader()
    assert reader.feed(b'data: [DONE]\n\ndata: not json\n\n') == []
    assert reader.feed(b'data: still not json\n\n') == []
    assert reader.end() == []
