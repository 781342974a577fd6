"""The gateway's client for the engines: one aiohttp session of kept-alive connections.

aiohttp rather than httpx (which the rest of lazyllm uses) because this hop is the gateway's
whole cost: measured against a built-in engine on this project's 2-core CI machine, httpx's
AsyncClient spends about 2.1-2.5 ms of CPU per call and aiohttp about 0.7-0.9 ms
(``bench/bench_gateway.py`` prints what the gateway adds).

``post`` returns once the engine's status and headers are in: the whole body for an answer,
or the open response for a stream, relayed chunk by chunk by ``relay``. ``Unreachable``: no
answer began (the connection failed or closed first), so the call may go to another replica;
``TimedOut``: the engine took longer than the timeout, and may still be working on it. A call
cancelled while it waits (its client left) closes its connection: the engine sees the
disconnect and stops generating.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, AsyncIterator, Mapping

import aiohttp

__all__ = ['Upstream', 'Answer', 'Unreachable', 'TimedOut']

log = logging.getLogger('lazyllm.gateway')


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


class Upstream:
    """Calls to the engines over kept-alive connections (the session is made on first use,
    inside the server's event loop)."""

    def __init__(self, timeout: float):
        self.timeout = aiohttp.ClientTimeout(total=None, sock_connect=10.0, sock_read=timeout)
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=30.0)
            self._session = aiohttp.ClientSession(connector=connector, timeout=self.timeout,
                                                  auto_decompress=False)
        return self._session

    async def post(self, url: str, payload: bytes, headers: Mapping[str, str],
                   stream: bool) -> Answer:
        response = None
        try:
            response = await self._open().post(url, data=payload, headers=dict(headers))
            kind = response.headers.get('content-type', 'application/json')
            if stream:
                return Answer(response.status, kind, stream=response)
            body = await response.read()
            response.release()
            return Answer(response.status, kind, body)
        except (asyncio.TimeoutError, aiohttp.ServerTimeoutError):
            _close(response)
            raise TimedOut() from None
        except aiohttp.ClientError as e:
            _close(response)
            raise Unreachable(type(e).__name__) from None
        except BaseException:      # cancelled (the client left): the engine must see it
            _close(response)
            raise

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


async def relay(response: Any) -> AsyncIterator[bytes]:
    """A streamed answer's bytes as the engine sends them. A stream read to its end gives its
    connection back; one left early (the client went away) closes it, which tells the engine
    to stop; an engine that breaks off mid-stream ends the stream where it broke."""
    done = False
    try:
        async for chunk in response.content.iter_any():
            yield chunk
        done = True
    except aiohttp.ClientError as e:
        log.warning('the engine at %s broke off a stream: %s', response.url, type(e).__name__)
    finally:
        response.release() if done else response.close()


def _close(response: Any) -> None:
    if response is not None:
        response.close()
