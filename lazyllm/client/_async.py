"""The asyncio client: one pooled ``httpx.AsyncClient`` per :class:`AsyncClient`.

The mirror image of ``_sync``: same methods, as coroutines (stream methods return async
generators). All decisions live in the shared ``_base`` / ``_call`` modules.
"""
from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator

import httpx

from ._base import ClientBase
from ._call import Call, byte_chunks
from ._types import ChatDelta, ChatResult, CompletionResult

__all__ = ['AsyncClient']


class AsyncClient(ClientBase):
    """An asyncio client of one OpenAI-compatible endpoint; see :class:`Client`.

    Use ``async with AsyncClient(url) as c:`` or ``await c.aclose()``. Stream methods are
    plain calls that return async generators: ``async for d in c.stream_chat(msgs): …``.
    """

    _http: httpx.AsyncClient

    def _open(self) -> None:
        self._http = httpx.AsyncClient(**self._http_options())

    # -- the OpenAI endpoints -----------------------------------------------------------------
    async def chat(self, messages: Any, *, model: str | None = None, **params: Any) -> ChatResult:
        """``POST chat/completions``; see :meth:`Client.chat`."""
        return await self._run(self._chat_call(messages, model, params))

    def stream_chat(self, messages: Any, *, model: str | None = None,
                    **params: Any) -> AsyncIterator[ChatDelta]:
        """``POST chat/completions`` streamed, as an async generator of deltas."""
        return self._stream(self._chat_call(messages, model, params, stream=True))

    async def complete(self, prompt: Any, *, model: str | None = None,
                       **params: Any) -> CompletionResult:
        """``POST completions``; see :meth:`Client.complete`."""
        return await self._run(self._complete_call(prompt, model, params))

    def stream_complete(self, prompt: Any, *, model: str | None = None,
                        **params: Any) -> AsyncIterator[ChatDelta]:
        """``POST completions`` streamed, as an async generator of deltas."""
        return self._stream(self._complete_call(prompt, model, params, stream=True))

    async def embed(self, input: Any, *, model: str | None = None,
                    **params: Any) -> list[list[float]]:
        """``POST embeddings``; see :meth:`Client.embed`."""
        return await self._run(self._embed_call(input, model, params))

    async def rerank(self, query: str, documents: list[str], *, model: str | None = None,
                     top_n: int | None = None, **params: Any) -> list[tuple[int, float]]:
        """``POST rerank``; see :meth:`Client.rerank`."""
        call = self._rerank_call(query, documents, model, top_n, params)
        return [] if call is None else await self._run(call)

    async def classify(self, input: Any, *, model: str | None = None,
                       **params: Any) -> list[dict]:
        """``POST /classify``; see :meth:`Client.classify`."""
        return await self._run(self._classify_call(input, model, params))

    async def models(self) -> list[str]:
        """``GET models``: the ids of the models the endpoint serves."""
        return await self._run(self._models_call())

    async def request(self, method: str, path: str, *, json: Any = None, form: Any = None,
                      files: Any = None, headers: Any = None, parse: Any = None,
                      raw: bool = False) -> Any:
        """Any endpoint, with the same retries and errors; see :meth:`Client.request`."""
        return await self._run(self._request_call(method, path, json, form=form, files=files,
                                                  headers=headers, parse=parse, raw=raw))

    def stream_events(self, path: str, *, json: Any, parse: Any,
                      headers: Any = None) -> AsyncIterator[ChatDelta]:
        """``POST`` an SSE endpoint of another protocol; see :meth:`Client.stream_events`."""
        return self._stream(self._events_call(path, json, parse, headers))

    # -- lifecycle ----------------------------------------------------------------------------
    async def aclose(self) -> None:
        """Close the pooled connections. The client cannot be used afterwards."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- I/O ----------------------------------------------------------------------------------
    async def _send(self, call: Call, stream: bool = False) -> tuple[httpx.Response, bytes]:
        """Awaitable send, retried until a success status; reads the body unless streaming."""
        while True:
            answered = False
            try:
                response = await self._http.send(call.build(self._http), stream=True)
                answered = True
                if stream and response.status_code < 400:
                    return response, b''
                try:
                    body = await response.aread()
                finally:
                    await response.aclose()
                delay = call.check(response, body)
            except httpx.HTTPError as e:
                delay = call.transport_failed(e, answered)
            if delay is None:
                return response, body
            await asyncio.sleep(delay)

    async def _run(self, call: Call) -> Any:
        return call.result((await self._send(call))[1])

    async def _stream(self, call: Call) -> AsyncIterator[ChatDelta]:
        response, _ = await self._send(call, stream=True)
        reader = call.reader()
        try:
            async for chunk in byte_chunks(response):
                for delta in reader.feed(chunk):
                    yield delta
            for delta in reader.end():
                yield delta
        except httpx.HTTPError as e:
            reader.failed(e)
        finally:
            await response.aclose()
