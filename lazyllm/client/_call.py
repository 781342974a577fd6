"""The state of one model call, shared by the sync and the async client.

A call is a request (method, URL, body), a total deadline, a retry count and a parser. The
sync and async clients differ only in how they wait (``send`` vs ``await send``,
``time.sleep`` vs ``asyncio.sleep``); every decision — how long a read may block, whether an
error is retried and after what wait, which exception to raise, how to parse the answer and
each streamed event — is made here, once.
"""
from __future__ import annotations

import json
from time import monotonic
from typing import Any, Callable, Iterable

import httpx

from .._redact import redact
from ..errors import EndpointError, StreamInterrupted
from ._errors import event_error, protocol_error, status_error, timeout_error, transport_error
from ._parse import ShapeError
from ._retry import retry_delay
from ._sse import DONE, SSEDecoder
from ._types import ChatDelta

__all__ = ['Call', 'StreamReader', 'byte_chunks', 'raw_body']

# Streamed events are UTF-8 bytes: decode them and parse the str directly, skipping the
# encoding sniffing json.loads does for bytes (a measurable share of a small event's cost).
_json_decode = json.JSONDecoder().decode


def raw_body(body: bytes) -> bytes:
    """The parser of a call whose answer is not JSON (audio, images): the body as is."""
    return body


def byte_chunks(response: httpx.Response) -> Any:
    """The (async) iterator of a streamed body: raw socket reads unless the server compressed
    it (httpx's decoding layer costs a few microseconds per chunk for nothing otherwise)."""
    encoded = response.headers.get('content-encoding', 'identity') != 'identity'
    if isinstance(response.stream, httpx.AsyncByteStream):
        return response.aiter_bytes() if encoded else response.aiter_raw()
    return response.iter_bytes() if encoded else response.iter_raw()


class Call:
    """One call: its request, its deadline and the attempts made so far."""

    __slots__ = ('method', 'url', 'body', 'parse', 'deadline', 'retries', 'timeout',
                 'connect_timeout', 'max_retries', 'secrets', 'headers', 'auth_fix')

    def __init__(self, method: str, url: httpx.URL, body: bytes | None, parse: Callable[[Any], Any],
                 *, timeout: float, connect_timeout: float, max_retries: int,
                 secrets: Iterable[str], headers: dict | None = None, auth_fix: str | None = None):
        self.method = method
        self.url = url
        self.body = body
        self.parse = parse
        self.headers = headers    # this call's own headers (an upload's Content-Type, …)
        self.auth_fix = auth_fix  # what to do on 401/403 (which key variable to set)
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.max_retries = max_retries
        self.secrets = secrets
        self.deadline = 0.0  # set when the first attempt starts (a stream may be iterated late)
        self.retries = 0

    # -- before each attempt ------------------------------------------------------------------
    def build(self, http: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        """The request of the next attempt, its timeouts bounded by the deadline."""
        return http.build_request(self.method, self.url, content=self.body,
                                  headers=self.headers, timeout=self.request_timeout())

    def request_timeout(self) -> httpx.Timeout:
        """The httpx timeouts of the next attempt: no single wait may pass the deadline."""
        now = monotonic()
        if not self.deadline:
            self.deadline = now + self.timeout
        left = self.deadline - now
        if left <= 0:
            raise timeout_error(str(self.url), self.secrets, self.timeout)
        return httpx.Timeout(left, connect=min(self.connect_timeout, left))

    # -- after a failed attempt: the wait before the next one, or the error raised ------------
    def _retry_or_raise(self, error: EndpointError, cause: BaseException | None) -> float:
        delay = retry_delay(error, self.retries, self.max_retries, self.deadline - monotonic())
        if delay is None:
            raise error from cause
        self.retries += 1
        return delay

    def transport_failed(self, exc: httpx.HTTPError, answered: bool = False) -> float:
        """Seconds to wait after an httpx error; raises the lazyllm error when giving up."""
        if isinstance(exc, httpx.TimeoutException) and monotonic() >= self.deadline:
            raise timeout_error(str(self.url), self.secrets, self.timeout) from exc
        error = transport_error(exc, str(self.url), self.secrets, timeout=self.timeout,
                                connect_timeout=self.connect_timeout, answered=answered)
        return self._retry_or_raise(error, exc)

    def check(self, response: httpx.Response, body: bytes) -> float | None:
        """None for a success status; else the seconds to wait before the next attempt
        (raises the lazyllm error when giving up)."""
        if response.status_code < 400:
            return None
        error = status_error(response.status_code, response.headers, body, str(self.url),
                             self.secrets, attempts=self.retries + 1, auth_fix=self.auth_fix)
        return self._retry_or_raise(error, None)

    # -- the answer ---------------------------------------------------------------------------
    def result(self, body: bytes) -> Any:
        """The parsed answer of a non-streamed call."""
        if self.parse is raw_body:
            return body
        if not body:
            data: Any = {}
        else:
            try:
                data = json.loads(body)
            except ValueError as e:
                raise protocol_error(str(self.url), self.secrets, f'the body is not JSON ({e}): '
                                     f'{body[:200]!r}', 'check that the URL is an OpenAI-'
                                     'compatible endpoint') from e
        if type(data) is dict and data.get('error') and 'choices' not in data:
            url = str(self.url)
            raise status_error(200, {}, data, url, self.secrets, auth_fix=self.auth_fix,
                               head=f'{url} answered an error with HTTP 200')
        try:
            return self.parse(data)
        except ShapeError as e:
            raise protocol_error(str(self.url), self.secrets, str(e),
                                 'check that the URL serves this endpoint') from None

    def reader(self) -> StreamReader:
        return StreamReader(self)


class StreamReader:
    """Turns the bytes of an SSE answer into deltas, and its failures into errors."""

    __slots__ = ('call', 'decoder', 'received', 'done', 'finished')

    def __init__(self, call: Call):
        self.call = call
        self.decoder = SSEDecoder()
        self.received: list[str] = []  # the content handed out so far, for StreamInterrupted
        self.done = False              # [DONE] seen: the rest is drained and ignored
        self.finished = False          # a finish_reason seen: a close without [DONE] is fine

    def feed(self, chunk: bytes) -> list[ChatDelta]:
        call = self.call
        if monotonic() > call.deadline:
            raise timeout_error(str(call.url), call.secrets, call.timeout)
        if self.done:
            return []
        return self._deltas(self.decoder.feed(chunk))

    def _deltas(self, events: list[bytes]) -> list[ChatDelta]:
        out = []
        for data in events:
            if data == DONE:
                self.done = True
                break
            try:
                obj = _json_decode(data.decode('utf-8'))
            except ValueError as e:  # UnicodeDecodeError is a ValueError too
                raise protocol_error(str(self.call.url), self.call.secrets,
                                     f'a stream event is not JSON ({e}): {data[:200]!r}',
                                     'check the server') from e
            if type(obj) is dict and obj.get('error'):
                raise event_error(obj, str(self.call.url), self.call.secrets,
                                  self.call.auth_fix)
            try:
                delta = self.call.parse(obj)
            except ShapeError as e:
                raise protocol_error(str(self.call.url), self.call.secrets, str(e),
                                     'check that the URL serves this endpoint') from None
            if delta is not None:
                if delta.content:
                    self.received.append(delta.content)
                if delta.finish_reason:
                    self.finished = True
                out.append(delta)
        return out

    def end(self) -> list[ChatDelta]:
        """The deltas of a last event without its blank line; raises if the answer is cut."""
        if self.done:
            return []
        out = self._deltas(self.decoder.flush())
        if not (self.done or self.finished):
            raise self._interrupted('the server closed the stream before [DONE]')
        return out

    def failed(self, exc: httpx.HTTPError) -> None:
        """Raise the lazyllm error for an httpx error mid-stream (ignored after [DONE])."""
        if self.done:
            return
        call = self.call
        if isinstance(exc, httpx.TimeoutException):
            raise timeout_error(str(call.url), call.secrets, call.timeout) from exc
        raise self._interrupted(f'{type(exc).__name__}: {exc}') from exc

    def _interrupted(self, cause: str) -> StreamInterrupted:
        text = ''.join(self.received)
        url = redact(str(self.call.url), self.call.secrets)
        msg = (f'the stream from {url} was cut after {len(text)} characters '
               f'({cause}): the partial answer is in .received; call again for a whole answer '
               f'(a stream is never retried once output began)')
        return StreamInterrupted(redact(msg, self.call.secrets), url=url,
                                 received=text)
