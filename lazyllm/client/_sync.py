"""The blocking client: one pooled ``httpx.Client`` (keep-alive) per :class:`Client`.

Everything but the waiting is shared with the async client (see ``_base`` and ``_call``);
this module only sends, reads and sleeps.
"""
from __future__ import annotations

import time
from typing import Any, Iterator

import httpx

from ._base import ClientBase
from ._call import Call, byte_chunks
from ._types import ChatDelta, ChatResult, CompletionResult

__all__ = ['Client']


class Client(ClientBase):
    """A blocking client of one OpenAI-compatible endpoint.

    ``Client(base_url, api_key=None, *, timeout=None, connect_timeout=None, max_retries=None,
    headers=None)``: ``base_url`` is normalized (``h:8000`` → ``http://h:8000/v1/``);
    ``timeout`` is the total seconds a call (retries and a whole stream included) may take;
    unset values come from ``lazyllm.config``. Thread-safe; close it (or use ``with``) to
    release its connections. Creating it does no I/O.
    """

    _http: httpx.Client

    def _open(self) -> None:
        self._http = httpx.Client(**self._http_options())

    # -- the OpenAI endpoints -----------------------------------------------------------------
    def chat(self, messages: Any, *, model: str | None = None, **params: Any) -> ChatResult:
        """``POST chat/completions``: the whole answer to ``messages`` (a str is one user
        message). ``params`` (temperature, max_tokens, tools, stop, …) go into the body."""
        return self._run(self._chat_call(messages, model, params))

    def stream_chat(self, messages: Any, *, model: str | None = None,
                    **params: Any) -> Iterator[ChatDelta]:
        """``POST chat/completions`` with ``stream=True``: the answer's deltas as they come.
        The input is checked now; the request is sent when iteration starts."""
        return self._stream(self._chat_call(messages, model, params, stream=True))

    def complete(self, prompt: Any, *, model: str | None = None,
                 **params: Any) -> CompletionResult:
        """``POST completions``: the continuation of ``prompt``."""
        return self._run(self._complete_call(prompt, model, params))

    def stream_complete(self, prompt: Any, *, model: str | None = None,
                        **params: Any) -> Iterator[ChatDelta]:
        """``POST completions`` streamed; each delta's ``content`` is the new text."""
        return self._stream(self._complete_call(prompt, model, params, stream=True))

    def embed(self, input: Any, *, model: str | None = None, **params: Any) -> list[list[float]]:
        """``POST embeddings``: one vector per text, in input order (a str gives one)."""
        return self._run(self._embed_call(input, model, params))

    def rerank(self, query: str, documents: list[str], *, model: str | None = None,
               top_n: int | None = None, **params: Any) -> list[tuple[int, float]]:
        """``POST rerank``: (document index, relevance score) pairs, best first."""
        call = self._rerank_call(query, documents, model, top_n, params)
        return [] if call is None else self._run(call)

    def classify(self, input: Any, *, model: str | None = None, **params: Any) -> list[dict]:
        """``POST /classify``: one ``{'label': …, 'score': …, 'scores': {label: probability}}``
        per text, in input order (a str gives a list of one)."""
        return self._run(self._classify_call(input, model, params))

    def models(self) -> list[str]:
        """``GET models``: the ids of the models the endpoint serves."""
        return self._run(self._models_call())

    def request(self, method: str, path: str, *, json: Any = None, form: Any = None,
                files: Any = None, headers: Any = None, parse: Any = None,
                raw: bool = False) -> Any:
        """Any endpoint, with the same retries and errors: ``path`` is relative to the base URL
        (``"models"``), to the server root (``"/health"``) or absolute. Returns the decoded
        JSON answer ({} for an empty body), ``parse(answer)`` when a parser is given, or the
        body's bytes with ``raw=True`` (audio, images). ``form`` (field -> str) and ``files``
        (field -> ``(filename, bytes, content type)``) send a multipart upload instead of
        ``json``; ``headers`` are added to this request only."""
        return self._run(self._request_call(method, path, json, form=form, files=files,
                                            headers=headers, parse=parse, raw=raw))

    def stream_events(self, path: str, *, json: Any, parse: Any,
                      headers: Any = None) -> Iterator[ChatDelta]:
        """``POST json`` to an SSE endpoint of another protocol (Anthropic messages, DashScope
        native) and yield ``parse(event)`` for each event's JSON, skipping None. ``parse``
        returns ChatDelta objects; the stream must end with ``[DONE]`` or a delta with a
        ``finish_reason``, else it counts as cut (StreamInterrupted). Retries, timeouts and
        errors are those of :meth:`stream_chat`."""
        return self._stream(self._events_call(path, json, parse, headers))

    # -- lifecycle ----------------------------------------------------------------------------
    def close(self) -> None:
        """Close the pooled connections. The client cannot be used afterwards."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- I/O ----------------------------------------------------------------------------------
    def _send(self, call: Call, stream: bool = False) -> tuple[httpx.Response, bytes]:
        """Blocking send, retried until a success status; reads the body unless streaming."""
        while True:
            answered = False
            try:
                response = self._http.send(call.build(self._http), stream=True)
                answered = True
                if stream and response.status_code < 400:
                    return response, b''
                try:
                    body = response.read()
                finally:
                    response.close()
                delay = call.check(response, body)
            except httpx.HTTPError as e:
                delay = call.transport_failed(e, answered)
            if delay is None:
                return response, body
            time.sleep(delay)

    def _run(self, call: Call) -> Any:
        return call.result(self._send(call)[1])

    def _stream(self, call: Call) -> Iterator[ChatDelta]:
        response, _ = self._send(call, stream=True)
        reader = call.reader()
        try:
            for chunk in byte_chunks(response):
                yield from reader.feed(chunk)
            yield from reader.end()
        except httpx.HTTPError as e:
            reader.failed(e)
        finally:
            response.close()
