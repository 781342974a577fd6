"""The gateway's client for the engines: HTTP/1.1 over kept-alive connections, parsed by
httptools.

This hop is all the gateway costs a call, so it is written for it instead of using a general
client: one ``transport.write`` per request, the answer parsed by httptools (the C parser
uvicorn serves with), no cookies, redirects, URL objects or per-call tasks. With httpx's
AsyncClient the gateway spent 3.6 ms of CPU per call, with aiohttp's session 1.5 ms, with
this 1.1 ms (``bench/bench_gateway.py`` on this project's 2-core CI machine, the same hour;
bench/README.md has the steps). Engines speak HTTP/1.1 with a length or chunked body.

``post`` returns once the engine's status and headers are in: the whole body for an answer,
or the open connection for a stream, relayed chunk by chunk by ``relay``. ``Unreachable``:
no answer began (the connection failed or closed first), so the call may go to another
replica; ``TimedOut``: the engine was silent for longer than the timeout, and may still be
working on it. A kept-alive connection the engine closed while it sat idle is retried once
on a new one. A call cancelled while it waits (its client left) closes its connection: the
engine sees the disconnect and stops generating.
"""
from __future__ import annotations

import asyncio
import logging
import ssl
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, AsyncIterator, Mapping
from urllib.parse import urlsplit

import httptools

__all__ = ['Upstream', 'Answer', 'Unreachable', 'TimedOut', 'relay']

log = logging.getLogger('lazyllm.gateway')
CONNECT_TIMEOUT = 10.0
_PAUSE_AT = 1 << 20          # bytes of a stream held before the engine is asked to wait


class Unreachable(Exception):
    """The engine gave no answer: it cannot be reached, or closed the connection first."""


class TimedOut(Exception):
    """The engine did not answer within the timeout."""


@dataclass
class Answer:
    """An engine's status and content type, with its ``body`` (an answer) or the open
    ``stream`` (to ``relay``)."""
    status: int
    content_type: str
    body: bytes = b''
    stream: Any = None


@lru_cache(maxsize=256)
def _target(url: str) -> tuple[tuple[str, int, bool], bytes, bytes]:
    """((host, port, tls), the request target, the Host header) of an engine URL."""
    parts = urlsplit(url)
    if parts.scheme not in ('http', 'https') or not parts.hostname:
        raise Unreachable(f'not an http(s) URL: {url!r}')
    tls = parts.scheme == 'https'
    port = parts.port or (443 if tls else 80)
    path = (parts.path or '/') + (f'?{parts.query}' if parts.query else '')
    return (parts.hostname, port, tls), path.encode('latin-1'), parts.netloc.encode('idna')


class _Connection(asyncio.Protocol):
    """One connection to an engine, answering one call at a time. httptools calls the
    ``on_*`` methods as the bytes come; the call waits on ``waiter``, woken at the headers,
    at each piece of body and at the end."""

    def __init__(self, key: tuple, pool: Upstream, loop: asyncio.AbstractEventLoop):
        self.key, self.pool, self.loop = key, pool, loop
        self.timer: asyncio.TimerHandle | None = None
        self.transport: Any = None
        self.parser = httptools.HttpResponseParser(self)   # resets itself after each answer
        self.closed = False
        self.waiter: asyncio.Future | None = None
        self.started = False            # the answer's first byte came
        self.status = 0
        self.content_type = 'application/json'
        self.chunks: list[bytes] = []
        self.held = 0
        self.paused = False
        self.complete = self.reusable = False
        self.busy = False               # a call is on it (from send to done)
        self.error: Exception | None = None
        self.last = 0.0                 # when the engine last sent something

    # asyncio.Protocol
    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.started, self.last = True, time.monotonic()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as e:
            self._fail(Unreachable(f'bad HTTP from the engine: {e}'))
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._stop_timer()
        if not self.complete:
            self._fail(Unreachable('the engine closed the connection'))

    # httptools' callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b'content-type':
            self.content_type = value.decode('latin-1')

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self._wake()

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self.held += len(body)
        if self.held > _PAUSE_AT and not self.paused and not self.closed:
            self.transport.pause_reading()
            self.paused = True
        self._wake()

    def on_message_complete(self) -> None:
        self.complete = True
        self._stop_timer()
        self.reusable = self.parser.should_keep_alive()    # asked now: the parser resets
        self._wake()

    # the call's side
    def send(self, target: bytes, host: bytes, payload: bytes,
             headers: Mapping[str, str]) -> None:
        self.busy, self.started, self.complete = True, False, False
        self.status, self.content_type, self.error = 0, 'application/json', None
        self.chunks, self.held, self.last = [], 0, time.monotonic()
        self.timer = self.loop.call_later(self.pool.timeout, self._watch_silence)
        head = b'POST %s HTTP/1.1\r\nhost: %s\r\ncontent-length: %d\r\n' % (
            target, host, len(payload))
        head += ''.join(f'{k}: {v}\r\n' for k, v in headers.items()).encode('latin-1')
        self.transport.write(head + b'\r\n' + payload)

    async def wait(self) -> None:
        """Until something new came, or the call failed (``error``)."""
        if self.error is not None:
            raise self.error
        self.waiter = self.loop.create_future()
        try:
            await self.waiter
        finally:
            self.waiter = None

    def _watch_silence(self) -> None:
        """The call's one timer: ``TimedOut`` once the engine was silent ``timeout``
        seconds (not while the gateway itself asked it to wait), else checked again then."""
        left = self.last + self.pool.timeout - time.monotonic()
        if left <= 0 and not self.paused:
            self._fail(TimedOut())
        elif not self.complete and not self.closed:
            self.timer = self.loop.call_later(max(left, 0.1), self._watch_silence)

    def take(self) -> bytes:
        """The body held so far, handed over (the engine may send more)."""
        data = self.chunks[0] if len(self.chunks) == 1 else b''.join(self.chunks)
        self.chunks, self.held = [], 0
        if self.paused and not self.closed:
            self.transport.resume_reading()
            self.paused, self.last = False, time.monotonic()    # its silence counts anew
        return data

    def done(self) -> None:
        """The call is over: the connection goes back to the pool, or is closed when the
        answer was not read to its end (that tells the engine to stop). Once per call: a
        second ``done`` does nothing."""
        if not self.busy:
            return
        self.busy = False
        if self.complete and self.reusable and not self.closed:
            self.pool.idle.setdefault(self.key, []).append(self)
        else:
            self.close()

    def close(self) -> None:
        self._stop_timer()
        if self.transport is not None and not self.closed:
            self.transport.close()
            self.closed = True

    def _stop_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def _fail(self, error: Exception) -> None:
        self.error = error
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(error)


class Upstream:
    """Calls to the engines over kept-alive connections, ``timeout`` seconds of silence
    allowed per call."""

    def __init__(self, timeout: float):
        self.timeout = timeout
        self.idle: dict[tuple, list[_Connection]] = {}
        self._tls: ssl.SSLContext | None = None

    async def post(self, url: str, payload: bytes, headers: Mapping[str, str],
                   stream: bool) -> Answer:
        key, target, host = _target(url)
        reused = True
        while True:
            conn = self._idle(key)
            if conn is None:
                conn, reused = await self._connect(key), False
            try:
                conn.send(target, host, payload, headers)
                while conn.status == 0:
                    await conn.wait()
            except Unreachable:
                conn.close()
                if reused and not conn.started:     # it closed while idle: a new one
                    continue
                raise
            except BaseException:   # timed out, or cancelled (the client left): the
                conn.close()        # engine must see the connection close
                raise
            break
        if stream:
            return Answer(conn.status, conn.content_type, stream=conn)
        try:
            while not conn.complete:
                await conn.wait()
        except BaseException:
            conn.close()
            raise
        body = conn.take()
        conn.done()
        return Answer(conn.status, conn.content_type, body)

    def _idle(self, key: tuple) -> _Connection | None:
        idle = self.idle.get(key)
        while idle:
            conn = idle.pop()
            if not conn.closed:
                return conn
        return None

    async def _connect(self, key: tuple) -> _Connection:
        host, port, tls = key
        if tls and self._tls is None:
            self._tls = ssl.create_default_context()
        loop = asyncio.get_running_loop()
        try:
            _, conn = await asyncio.wait_for(loop.create_connection(
                lambda: _Connection(key, self, loop), host, port,
                ssl=self._tls if tls else None), CONNECT_TIMEOUT)
        except (OSError, asyncio.TimeoutError) as e:
            raise Unreachable(type(e).__name__) from None
        return conn

    async def close(self) -> None:
        for conns in self.idle.values():
            for conn in conns:
                conn.close()
        self.idle.clear()


async def relay(conn: Any) -> AsyncIterator[bytes]:
    """A streamed answer's bytes as the engine sends them. A stream read to its end gives
    its connection back; one left early (the client went away) closes it, which tells the
    engine to stop; an engine that breaks off mid-stream ends the stream where it broke."""
    try:
        while True:
            if conn.chunks:
                yield conn.take()
            elif conn.complete:
                break
            else:
                await conn.wait()
    except (Unreachable, TimedOut) as e:
        log.warning('the engine at %s:%s broke off a stream: %s', *conn.key[:2], e)
    finally:
        conn.done()
