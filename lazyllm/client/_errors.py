"""Map what went wrong on the wire (httpx exceptions, HTTP statuses, error events) to the
lazyllm error tree, with a message that names the cause, the URL and the fix.

Callers catch ``lazyllm.errors`` classes, never httpx ones: the client is the layer seam
where foreign exceptions are wrapped (the httpx exception stays as ``__cause__``). Every
message and URL passes through ``redact`` with the client's secrets, so an API key a server
echoes back, or one pasted into a URL, never reaches a log.
"""
from __future__ import annotations

import json
import socket
import time
from email.utils import parsedate_to_datetime
from typing import Any, Iterable, Mapping

import httpx

from .._redact import redact
from ..errors import (
    AuthenticationError,
    EndpointConnectError,
    EndpointError,
    EndpointTimeout,
    OnlineAPIError,
    ProtocolError,
    RateLimitError,
    ServerError,
)

__all__ = ['transport_error', 'status_error', 'event_error', 'timeout_error', 'protocol_error',
           'retry_after', 'RETRIABLE']

# Errors worth another attempt, as long as no output has reached the caller yet.
RETRIABLE = (EndpointConnectError, RateLimitError, ServerError)
_EXCERPT = 500


def _root_cause(exc: BaseException) -> BaseException:
    """The innermost exception of the chain (anyio hides ECONNREFUSED under 'All connection
    attempts failed')."""
    seen = {id(exc)}
    while True:
        inner = exc.__cause__ or exc.__context__
        if inner is None or id(inner) in seen:
            return exc
        seen.add(id(inner))
        exc = inner


def _connect_message(exc: BaseException, url: str) -> str:
    """Cause and fix of a failed TCP connect."""
    root = _root_cause(exc)
    text = f'{exc} {root}'.lower()
    if isinstance(root, ConnectionRefusedError) or 'refused' in text:
        return f'nothing answers at {url} (connection refused): start the engine or check ' \
               f'the URL and port'
    if isinstance(root, socket.gaierror) or any(
            w in text for w in ('name or service', 'nodename', 'name resolution', 'getaddrinfo')):
        return f'cannot find the host of {url} ({root}): check the host name in the URL and ' \
               f'your DNS / network'
    return f'nothing answers at {url} ({root or type(root).__name__}): check that the server ' \
           f'runs and that the host is reachable from here'


def transport_error(exc: httpx.HTTPError, url: str, secrets: Iterable[str], *,
                    timeout: float, connect_timeout: float, answered: bool) -> EndpointError:
    """The lazyllm error for an httpx exception. ``answered``: the status line had arrived."""
    url = redact(url, secrets)
    if isinstance(exc, httpx.ConnectTimeout):
        msg = (f'no TCP connection to {url} within connect_timeout={connect_timeout:g} s: check '
               f'that the host is up, or raise connect_timeout= / LAZYLLM_CONNECT_TIMEOUT')
        return EndpointConnectError(redact(msg, secrets), url=url)
    if isinstance(exc, httpx.TimeoutException):
        return timeout_error(url, secrets, timeout)
    if isinstance(exc, httpx.ConnectError):
        return EndpointConnectError(redact(_connect_message(exc, url), secrets), url=url)
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
        if answered:
            return protocol_error(url, secrets, f'the connection broke while the answer was read '
                                  f'({exc})', "check the server's logs; the call can be retried")
        msg = (f'{url} closed the connection without answering ({exc}): check that the server '
               f'speaks HTTP at this URL and look at its logs')
        return EndpointConnectError(redact(msg, secrets), url=url)
    if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
        return EndpointConnectError(redact(f'cannot call {url} ({exc}): check the URL', secrets),
                                    url=url)
    return protocol_error(url, secrets, f'{type(exc).__name__}: {exc}',
                          'check that the URL is an OpenAI-compatible endpoint')


def timeout_error(url: str, secrets: Iterable[str], timeout: float) -> EndpointTimeout:
    url = redact(url, secrets)
    msg = (f'no complete answer from {url} within timeout={timeout:g} s: raise timeout= or '
           f'LAZYLLM_TIMEOUT, or find out why the server is slow')
    return EndpointTimeout(redact(msg, secrets), url=url)


def protocol_error(url: str, secrets: Iterable[str], cause: str, fix: str) -> ProtocolError:
    url = redact(url, secrets)
    return ProtocolError(redact(f'{url} did not answer in the protocol expected of it: '
                                f'{cause}: {fix}', secrets), url=url)


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asked us to wait: ``retry-after-ms``, or ``Retry-After`` in
    seconds or as an HTTP date."""
    value = headers.get('retry-after-ms')
    if value:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get('retry-after')
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _server_message(body: Any) -> str:
    """The human part of an error body: ``error.message``, ``message``, ``detail`` or text."""
    data = body
    if isinstance(body, (bytes, str)):
        try:
            data = json.loads(body)
        except ValueError:
            text = body.decode('utf-8', 'replace') if isinstance(body, bytes) else body
            return ' '.join(text.split())[:200]
    if isinstance(data, dict):
        err = data.get('error', data)
        while isinstance(err, dict) and isinstance(err.get('error'), dict):
            err = err['error']   # Anthropic: {"type": "error", "error": {"message": …}}
        if isinstance(err, dict):
            err = err.get('message') or err.get('detail') or err.get('msg') or err
        elif data.get('message') or data.get('detail'):
            err = data.get('message') or data.get('detail')
        return str(err)[:200]
    return str(data)[:200]


def _excerpt(body: Any, secrets: Iterable[str]) -> str:
    if isinstance(body, bytes):
        body = body[:_EXCERPT].decode('utf-8', 'replace')
    elif not isinstance(body, str):
        body = json.dumps(body, ensure_ascii=False, default=str)
    return redact(body[:_EXCERPT], secrets)


def status_error(status: int, headers: Mapping[str, str], body: Any, url: str,
                 secrets: Iterable[str], *, attempts: int = 1, head: str | None = None,
                 auth_fix: str | None = None) -> OnlineAPIError:
    """The OnlineAPIError subclass for an HTTP error status (or an error event).
    ``auth_fix`` says what to do about a rejected key (which variable to set)."""
    url = redact(url, secrets)
    said = _server_message(body)
    head = head or f'{url} answered HTTP {status}'
    tried = f' (after {attempts} attempts)' if attempts > 1 else ''
    kw: dict[str, Any] = dict(url=url, status=status, body=_excerpt(body, secrets))
    if status in (401, 403):
        return AuthenticationError(redact(
            f'{head}: {said}: the API key is missing, wrong or lacks access; '
            f'{auth_fix or "pass a valid api_key= (or set the key variable of the supplier)"}',
            secrets), **kw)
    if status == 429:
        wait = retry_after(headers)
        asked = f'; it asked to wait {wait:g} s' if wait is not None else ''
        return RateLimitError(redact(
            f'{head}{tried}: {said}{asked}: too many requests; slow down, retry later or raise '
            f'max_retries= / LAZYLLM_MAX_RETRIES', secrets), retry_after=wait, **kw)
    if status >= 500:
        return ServerError(redact(
            f"{head}{tried}: {said}: the server failed; check its logs (and that the model "
            f"loaded), then retry", secrets), **kw)
    if status == 404:
        fix = 'check the URL (an OpenAI-compatible …/v1/ base) and the model name'
    elif status in (400, 422):
        fix = 'check the request parameters and the model name against what the server serves'
    else:
        fix = "check the request and the server's documentation"
    return OnlineAPIError(redact(f'{head}: {said}: {fix}', secrets), **kw)


# Error types that carry no numeric code in a stream event (Anthropic's), as HTTP statuses.
_EVENT_TYPES: dict[str, int] = {
    'invalid_request_error': 400, 'authentication_error': 401, 'permission_error': 403,
    'not_found_error': 404, 'request_too_large': 413, 'rate_limit_error': 429, 'api_error': 500,
    'server_error': 500, 'overloaded_error': 529}


def event_error(event: dict, url: str, secrets: Iterable[str],
                auth_fix: str | None = None) -> OnlineAPIError:
    """The error for an ``{"error": …}`` event sent inside a stream."""
    err = event.get('error')
    while isinstance(err, dict) and isinstance(err.get('error'), dict):
        err = err['error']   # Anthropic: {"type": "error", "error": {"type": …, "message": …}}
    code = err.get('code') if isinstance(err, dict) else None
    if not isinstance(code, int) or isinstance(code, bool) or not 100 <= code <= 599:
        kind = err.get('type') if isinstance(err, dict) else None
        code = _EVENT_TYPES.get(kind, 0) if isinstance(kind, str) else 0   # a list: unhashable
    head = f'{url} sent an error event mid-stream' + (f' (code {code})' if code else '')
    return status_error(code, {}, event, url, secrets, head=head, auth_fix=auth_fix)
