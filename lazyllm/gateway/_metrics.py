"""The gateway's Prometheus metrics: ``GET /metrics`` in the text format, and the plain ASGI
middleware that measures every request as it passes.

Plain ASGI, as ``_RequireKey``: Starlette's BaseHTTPMiddleware would hide the client's
disconnect from ``forward``. The middleware only watches the ``send`` messages go by, so a
stream is never buffered; per chunk it runs a byte search (and, until a stream's first text,
one small regular expression). JSON is parsed only from a ``"usage"`` key on, a few hundred
bytes, never a whole body.

- ``lazyllm_gateway_requests_total{model,route,status}`` and
  ``lazyllm_gateway_request_duration_seconds{model,route}`` (a stream ends with its last
  byte). ``route`` is the route's path template (``other`` for a path no route serves);
  ``model`` the model the request named (a deployment, its replicas' name or a published
  variant), once ``_forward`` found it, and ``unknown`` when it named none
  that is served: a client cannot grow the label set with made-up names.
- ``lazyllm_gateway_time_to_first_token_seconds{model}``: of a streamed answer, the time to
  the first chunk carrying generated text (content, text, reasoning or a tool call). Not the
  first chunk: engines (the built-in one, vLLM) open a chat stream with a role-only chunk
  before generating anything.
- ``lazyllm_gateway_prompt_tokens_total{model,key}`` and ``…_completion_tokens_total``: the
  ``usage`` of the answers, as the client saw it: every JSON answer that has one, and the
  streams that asked for it (``stream_options.include_usage``; a stream without it carries
  no usage, so it is not counted). ``key`` is ``key-`` and the first 8 hex digits of the
  key's SHA-256 (``printf %s KEY | sha256sum``), or ``none`` on a gateway without keys:
  never the key itself.
- ``lazyllm_gateway_live_deployments``: the running deployments it routes to (each replica
  counts), read at scrape time.

A gateway with API keys asks for one on ``/metrics`` too: the metrics name the deployments,
which ``GET /v1/models`` shows only to a caller with a key. The engines' own metrics
(``lazyllm/deploy/servers/_metrics.py``, ``lazyllm_…``) keep the same names; layering keeps
the definitions apart, so change both together.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from typing import Any, Iterable

from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from starlette.routing import Match

from ._errors import unauthorized
from ._keys import authorized, shown_key
from ._targets import MODEL_PATHS, Targets

__all__ = ['instrument', 'key_id', 'UsageScan']

DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300,
                    600)
TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160)
_USAGE = b'"usage"'
_USAGE_MAX = 4096           # bytes of a usage object: more is not one
# a JSON string key whose value is generated text, with a first character
_TEXT = re.compile(rb'"(?:content|text|reasoning_content|reasoning|arguments|name)"\s*:\s*"'
                   rb'(?!")')
_TEXT_MAX = 64              # bytes of a chunk kept to find a key cut by a chunk boundary
_DECODER = json.JSONDecoder()
CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'    # what generate_latest writes


def key_id(key: str) -> str:
    """The label of an API key: stable, short, and not the key."""
    return 'key-' + hashlib.sha256(key.encode()).hexdigest()[:8]


class UsageScan:
    """Follows one answer's body, chunk by chunk, for its last ``usage`` object (a stream's
    final chunk; a continuous-usage stream repeats a growing total). Each chunk is searched
    from its end, so a large JSON body, whose usage comes last, costs microseconds. A usage
    object cut by a chunk boundary is completed from the next chunk."""

    def __init__(self) -> None:
        self.usage: dict | None = None
        self.carry = b''

    def feed(self, chunk: bytes) -> None:
        data, self.carry = self.carry + chunk, b''
        end = len(data)
        while (at := data.rfind(_USAGE, 0, end)) >= 0:
            value = _value_after(data, at + len(_USAGE))
            if value is _CUT:
                self.carry = self.carry or data[at:]     # the latest one: wait for the rest
            elif isinstance(value, dict):
                self.usage = value
                break
            end = at
        self.carry = self.carry or data[-(len(_USAGE) - 1):]    # a marker cut in two


_CUT = object()


def _value_after(data: bytes, at: int) -> Any:
    """The JSON value of the key that ends at ``at`` (None when it is not a key, or not
    JSON), or ``_CUT`` when the data ends before it does."""
    window = data[at:at + _USAGE_MAX]
    text = window.decode('utf-8', 'replace').lstrip()
    cut = _CUT if len(window) < _USAGE_MAX else None
    if not text:
        return cut
    if not text.startswith(':'):
        return None                   # "usage" was a value, not a key
    try:
        return _DECODER.raw_decode(text[1:].lstrip())[0]
    except ValueError:
        return cut


class _Live:
    """``lazyllm_gateway_live_deployments``, counted from the registry at scrape time."""

    def __init__(self, targets: Targets):
        self.targets = targets

    def collect(self) -> Iterable[Metric]:
        yield GaugeMetricFamily('lazyllm_gateway_live_deployments', 'running deployments the '
                                'gateway routes to (each replica counts)',
                                value=len(self.targets.rows()))


class _Metrics:
    def __init__(self, targets: Targets):
        self.registry = r = CollectorRegistry()
        self.requests = Counter('lazyllm_gateway_requests', 'requests answered, by model, route '
                                'template and status', ['model', 'route', 'status'], registry=r)
        self.duration = Histogram('lazyllm_gateway_request_duration_seconds', 'time from a '
                                  'request to the last byte of its answer', ['model', 'route'],
                                  buckets=DURATION_BUCKETS, registry=r)
        self.ttft = Histogram('lazyllm_gateway_time_to_first_token_seconds', 'time from a '
                              'streamed request to its first chunk of generated text',
                              ['model'], buckets=TTFT_BUCKETS, registry=r)
        self.prompt = Counter('lazyllm_gateway_prompt_tokens', 'prompt tokens in the usage of '
                              'the answers, by API key id', ['model', 'key'], registry=r)
        self.completion = Counter('lazyllm_gateway_completion_tokens', 'completion tokens in '
                                  'the usage of the answers, by API key id', ['model', 'key'],
                                  registry=r)
        r.register(_Live(targets))


def _model_of(scope: dict) -> str:
    """The model the request named, when it is served (``_forward`` sets it once it found
    the model): a deployment, its replicas' name or a published variant; else ``unknown``."""
    return (scope.get('state') or {}).get('model') or 'unknown'


class _Answer:
    """What passes in one response: its status, the first text of a stream, its usage."""

    def __init__(self, metrics: _Metrics, scope: dict):
        self.metrics, self.scope = metrics, scope
        self.start, self.status = time.perf_counter(), 500
        self.usage: UsageScan | None = None
        self.waiting_text = False
        self.tail = b''

    def started(self, message: dict) -> None:
        self.status = message['status']
        kind = dict(message.get('headers') or ()).get(b'content-type', b'')
        stream = kind.startswith(b'text/event-stream')
        if self.status < 400 and (stream or kind.startswith(b'application/json')):
            self.usage = UsageScan()
        self.waiting_text = stream and self.status < 400

    def body(self, chunk: bytes) -> None:
        if self.usage is not None and chunk:
            self.usage.feed(chunk)
        if self.waiting_text and chunk:
            data = self.tail + chunk
            if _TEXT.search(data):
                self.waiting_text = False
                self.metrics.ttft.labels(_model_of(self.scope)).observe(
                    time.perf_counter() - self.start)
            self.tail = data[-_TEXT_MAX:]


class _Measure:
    """The ASGI middleware: counts, times and reads the usage of every HTTP request."""

    def __init__(self, app: Any, metrics: _Metrics, keys: tuple[str, ...], routes: FastAPI):
        self.app, self.metrics, self.keys, self.routes = app, metrics, keys, routes
        self.ids = {k: key_id(k) for k in keys}

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope['type'] != 'http':
            await self.app(scope, receive, send)
            return
        answer = _Answer(self.metrics, scope)

        async def watch(message: dict) -> None:
            if message['type'] == 'http.response.start':
                answer.started(message)
            elif message['type'] == 'http.response.body':
                answer.body(message.get('body', b''))
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            self.record(scope, answer)

    def record(self, scope: dict, answer: _Answer) -> None:
        m, model, route = self.metrics, _model_of(scope), self.route_of(scope)
        m.requests.labels(model, route, str(answer.status)).inc()
        m.duration.labels(model, route).observe(time.perf_counter() - answer.start)
        usage = answer.usage.usage if answer.usage is not None else None
        if not usage:
            return
        key = self.key_of(scope)
        for counter, field in ((m.prompt, 'prompt_tokens'), (m.completion, 'completion_tokens')):
            n = usage.get(field)
            if isinstance(n, int) and not isinstance(n, bool) and n >= 0:
                counter.labels(model, key).inc(n)

    def route_of(self, scope: dict) -> str:
        """The path template of the route that served ``scope``: a model route's path, the
        FastAPI route's (its router records it; one refused before routing, a 401, is
        matched here), ``other`` when none does."""
        if scope['path'] in MODEL_PATHS:
            return scope['path']
        route = scope.get('route') or next(
            (r for r in self.routes.router.routes if r.matches(scope)[0] != Match.NONE), None)
        return getattr(route, 'path', None) or 'other'

    def key_of(self, scope: dict) -> str:
        """The id of the key the request showed (``none`` without one)."""
        key = shown_key(dict(scope.get('headers') or ()).get(b'authorization'), self.keys)
        return self.ids[key] if key is not None else 'none'


def instrument(app: Any, routes: FastAPI, targets: Targets, keys: tuple[str, ...]) -> Any:
    """``app`` with every request measured (the outermost layer: refusals count too), and
    ``GET /metrics`` added to ``routes``, the FastAPI app inside it."""
    metrics = _Metrics(targets)

    async def scrape(request: Request) -> Response:
        if not authorized(request.headers.get('authorization'), keys):
            return unauthorized()
        text = await asyncio.to_thread(generate_latest, metrics.registry)   # reads the registry
        return Response(text, media_type=CONTENT_TYPE)

    routes.add_api_route('/metrics', scrape, methods=['GET'], include_in_schema=False)
    return _Measure(app, metrics, keys, routes)
