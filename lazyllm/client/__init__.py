"""The one OpenAI-protocol client every model call in lazyllm goes through.

    from lazyllm.client import Client
    with Client('http://127.0.0.1:8000') as c:          # normalized to …/v1/
        print(c.chat([{'role': 'user', 'content': 'hi'}]).content)
        for delta in c.stream_chat('tell a story'):
            print(delta.content, end='')

:class:`Client` (blocking) and :class:`AsyncClient` (asyncio) have the same methods:
``chat``, ``stream_chat``, ``complete``, ``stream_complete``, ``embed``, ``rerank``,
``classify``, ``models`` and the low-level ``request``. Each keeps one pooled HTTP client, retries
connect errors, 429 and 5xx before any output reached the caller, enforces one total
``timeout`` per call (a whole stream included) and raises only ``lazyllm.errors`` classes,
with API keys redacted. ``request`` (any JSON or multipart endpoint, raw bytes too) and
``stream_events`` (any SSE endpoint) take a ``parse`` function for protocols other than
OpenAI's; a parser raises :class:`ShapeError` for an answer of the wrong shape, which the
caller sees as a ProtocolError naming the URL. This package imports httpx; ``import lazyllm``
does not import it.
"""
from ._async import AsyncClient
from ._parse import ShapeError
from ._sync import Client
from ._types import ChatDelta, ChatResult, CompletionResult, merge_tool_calls
from ._urls import is_loopback, normalize_base_url

__all__ = ['Client', 'AsyncClient', 'ChatResult', 'ChatDelta', 'CompletionResult',
           'merge_tool_calls', 'normalize_base_url', 'is_loopback', 'ShapeError']
