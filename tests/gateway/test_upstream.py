"""The gateway's client for the engines (``gateway/_upstream.py``) against real HTTP servers
on 127.0.0.1: uvicorn serving small Starlette apps (the server the engines run), and, for the
one wire-level race uvicorn cannot be made to hit on cue, a raw asyncio server that closes a
kept-alive connection as the next request arrives. Each test runs its own event loop."""
from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from lazyllm.gateway._upstream import TimedOut, Unreachable, Upstream, relay

JSON = {'content-type': 'application/json'}


@contextlib.asynccontextmanager
async def serving(app, **options):
    """``app`` served by uvicorn on a free port of 127.0.0.1; its base URL."""
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level='warning', lifespan='off', **options))
    task = asyncio.ensure_future(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield f'http://127.0.0.1:{sock.getsockname()[1]}'
    finally:
        server.should_exit = True
        await task


def run(test):
    """A coroutine function run as a plain test in an event loop of its own."""
    @functools.wraps(test)
    def in_a_loop(*args, **kwargs):
        return asyncio.run(test(*args, **kwargs))
    return in_a_loop


def echo_app(ports: list):
    async def echo(request: Request) -> Response:
        ports.append(request.client.port)
        return JSONResponse({'got': (await request.json())['n']})
    return Starlette(routes=[Route('/v1/echo', echo, methods=['POST'])])


@run
async def test_calls_in_a_row_share_one_kept_alive_connection():
    ports: list[int] = []
    async with serving(echo_app(ports)) as base:
        up = Upstream(timeout=30)
        for n in range(20):
            answer = await up.post(base + '/v1/echo', b'{"n": %d}' % n, JSON, stream=False)
            assert answer.status == 200 and answer.body == b'{"got":%d}' % n
            assert answer.content_type == 'application/json'
        await up.close()
    assert len(ports) == 20 and len(set(ports)) == 1


@run
async def test_a_connection_the_engine_closed_while_idle_is_not_used_again():
    ports: list[int] = []
    async with serving(echo_app(ports), timeout_keep_alive=1) as base:
        up = Upstream(timeout=30)
        assert (await up.post(base + '/v1/echo', b'{"n": 1}', JSON, False)).status == 200
        await asyncio.sleep(1.6)             # uvicorn closes the idle connection after 1 s
        assert (await up.post(base + '/v1/echo', b'{"n": 2}', JSON, False)).status == 200
        await up.close()
    assert len(set(ports)) == 2


@run
async def test_a_kept_alive_connection_closed_as_the_call_is_sent_is_retried_on_a_new_one():
    """The race a pool of kept-alive connections meets: the engine closes an idle
    connection just as the next request goes out on it. No byte of answer came, so the
    engine did not take the call: it is sent again on a new connection, not failed."""
    answer = b'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}'
    connections = 0

    async def one_answer_per_connection(reader, writer):
        nonlocal connections
        connections += 1
        await reader.readuntil(b'\r\n\r\n{}')       # the first request (its body is {})
        writer.write(answer)
        await reader.readuntil(b'\r\n\r\n{}')       # the next: closed without a byte
        writer.close()
    server = await asyncio.start_server(one_answer_per_connection, '127.0.0.1', 0)
    url = f'http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1/x'
    up = Upstream(timeout=30)
    for _ in range(3):
        got = await up.post(url, b'{}', JSON, False)
        assert (got.status, got.body) == (200, b'{}')
    await up.close()
    server.close()
    assert connections == 3


@run
async def test_a_stream_is_relayed_chunk_by_chunk_as_the_engine_sends_it():
    gate = asyncio.Event()

    async def chunks():
        yield b'data: one\n\n'
        await gate.wait()                   # the second waits for the first to be relayed
        yield b'data: two\n\n'

    async def stream(request: Request) -> Response:
        return StreamingResponse(chunks(), media_type='text/event-stream')
    async with serving(Starlette(routes=[Route('/s', stream, methods=['POST'])])) as base:
        up = Upstream(timeout=30)
        answer = await up.post(base + '/s', b'{}', JSON, stream=True)
        assert answer.status == 200 and answer.content_type.startswith('text/event-stream')
        got = []
        async for chunk in relay(answer.stream):
            got.append(chunk)
            gate.set()
        assert got == [b'data: one\n\n', b'data: two\n\n']
        assert (await up.post(base + '/s', b'{}', JSON, stream=False)).body == \
            b'data: one\n\ndata: two\n\n'          # the connection went back to the pool
        await up.close()


@run
async def test_a_stream_the_engine_breaks_off_ends_where_it_broke(caplog):
    async def chunks():
        yield b'data: one\n\n'
        raise RuntimeError('the engine fell over')

    async def stream(request: Request) -> Response:
        return StreamingResponse(chunks(), media_type='text/event-stream')
    async with serving(Starlette(routes=[Route('/s', stream, methods=['POST'])])) as base:
        up = Upstream(timeout=30)
        answer = await up.post(base + '/s', b'{}', JSON, stream=True)
        with caplog.at_level(logging.WARNING, logger='lazyllm.gateway'):
            got = [chunk async for chunk in relay(answer.stream)]
        assert got == [b'data: one\n\n']
        assert 'broke off a stream' in caplog.text
        assert answer.stream.closed and not up.idle.get(answer.stream.key)
        await up.close()


def answers_never():
    """An app whose one route answers only once its caller hung up, and the event it sets
    then (the engine saw the disconnect)."""
    seen_gone = asyncio.Event()

    async def slow(request: Request) -> Response:
        while not await request.is_disconnected():
            await asyncio.sleep(0.05)
        seen_gone.set()
        return Response(b'')
    return Starlette(routes=[Route('/slow', slow, methods=['POST'])]), seen_gone


@run
async def test_an_engine_silent_past_the_timeout_is_timed_out_and_its_connection_closed():
    app, seen_gone = answers_never()
    async with serving(app) as base:
        up = Upstream(timeout=0.3)
        with pytest.raises(TimedOut):
            await up.post(base + '/slow', b'{}', JSON, False)
        await asyncio.wait_for(seen_gone.wait(), 5)
        await up.close()


@run
async def test_a_cancelled_call_hangs_up_on_the_engine():
    app, seen_gone = answers_never()
    async with serving(app) as base:
        up = Upstream(timeout=30)
        call = asyncio.ensure_future(up.post(base + '/slow', b'{}', JSON, False))
        await asyncio.sleep(0.3)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        await asyncio.wait_for(seen_gone.wait(), 5)
        await up.close()


@run
async def test_nothing_listening_is_unreachable():
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))                 # bound, never listening: refused
    try:
        with pytest.raises(Unreachable):
            await Upstream(timeout=30).post(f'http://127.0.0.1:{sock.getsockname()[1]}/v1/x',
                                            b'{}', JSON, False)
    finally:
        sock.close()


@run
async def test_a_large_stream_read_slowly_arrives_whole():
    """More than the client holds before it asks the engine to wait: reading pauses and
    resumes, and every byte arrives in order."""
    piece = bytes(range(256)) * 256                 # 64 KiB

    async def chunks():
        for i in range(40):                         # 2.5 MiB
            yield bytes([i]) + piece

    async def stream(request: Request) -> Response:
        return StreamingResponse(chunks(), media_type='application/octet-stream')
    async with serving(Starlette(routes=[Route('/big', stream, methods=['POST'])])) as base:
        up = Upstream(timeout=30)
        answer = await up.post(base + '/big', b'{}', JSON, stream=True)
        await asyncio.sleep(0.5)                    # the engine sends while nobody reads
        got = b''
        async for chunk in relay(answer.stream):
            got += chunk
            await asyncio.sleep(0.01)
        assert got == b''.join(bytes([i]) + piece for i in range(40))
        await up.close()
