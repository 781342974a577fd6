"""Prometheus metrics of one engine process, served as ``GET /metrics`` (text format).

Every app has its own ``CollectorRegistry``, not prometheus_client's global one: tests build
several apps in one process, and the global registry refuses a metric name twice.

What is measured, and where:

- ``lazyllm_requests_total{route,status}`` and ``lazyllm_request_duration_seconds{route}``
  by ``CountRequests``, a plain ASGI middleware (``_middleware`` says why not Starlette's
  ``BaseHTTPMiddleware``). ``route`` is the matched route's path template
  (``/v1/models/{model_id:path}``, not the model a request named), ``other`` for a path no
  route serves: a client cannot grow the label set. A stream's duration ends with its last
  byte.
- Tokens, time to first token and the queue depth by the generating engines (llm, vlm),
  from the counts they already compute for ``usage``; the batch sizes by the batching ones
  (the LLM generator and ``MicroBatcher``). An engine creates only the metrics it records
  (``generation``, ``batch_size`` are made on first use), so no engine shows zeros for
  numbers it cannot have.
- The process's own (``process_start_time_seconds``, CPU, memory; Linux), from which
  ``lazyllm ps --metrics`` makes tokens per second since the engine started.

The metric names are shared with the gateway's (``lazyllm/gateway/_metrics.py``, prefixed
``lazyllm_gateway_``); layering keeps the two definitions apart, so change both together.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from starlette.routing import Match

__all__ = ['EngineMetrics', 'Generation', 'CountRequests', 'route_of', 'CONTENT_TYPE']
# what generate_latest writes; prometheus_client's own server says so too (its LATEST, 1.0.0
# from 0.22 on, is what an older Prometheus may not accept)
CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

# seconds: an embedding takes milliseconds, a long answer on a CPU minutes
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300,
                    600)
TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


@dataclass
class Generation:
    """The metrics of an engine that generates text."""
    prompt_tokens: Counter
    completion_tokens: Counter
    ttft: Histogram
    queue_depth: Gauge


class EngineMetrics:
    """The metrics of one engine app (``app.state.metrics``); ``text()`` is the scrape."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)   # process_start_time_seconds, CPU, memory
        self.requests = Counter('lazyllm_requests', 'HTTP requests answered, by route template '
                                'and status', ['route', 'status'], registry=self.registry)
        self.duration = Histogram('lazyllm_request_duration_seconds', 'time from a request '
                                  'to the last byte of its answer', ['route'],
                                  buckets=DURATION_BUCKETS, registry=self.registry)

    def text(self) -> bytes:
        return generate_latest(self.registry)

    @cached_property
    def generation(self) -> Generation:
        r = self.registry
        return Generation(
            Counter('lazyllm_prompt_tokens', 'prompt tokens of finished requests', registry=r),
            Counter('lazyllm_completion_tokens', 'tokens generated', registry=r),
            Histogram('lazyllm_time_to_first_token_seconds', 'time from a request to its '
                      'first generated text', buckets=TTFT_BUCKETS, registry=r),
            Gauge('lazyllm_queue_depth', 'requests waiting for or in generation', registry=r))

    @cached_property
    def batch_size(self) -> Histogram:
        return Histogram('lazyllm_batch_size', 'requests (llm) or items (embed, rerank, '
                         'classify) computed together', buckets=BATCH_BUCKETS,
                         registry=self.registry)


def route_of(scope: dict) -> str:
    """The path template of the route that served ``scope``: the router records it; a
    request refused before routing (a 401) is matched here; no route is ``other``."""
    route = scope.get('route')
    if route is None and scope.get('app') is not None:
        for candidate in scope['app'].router.routes:
            if candidate.matches(scope)[0] != Match.NONE:
                route = candidate
                break
    return getattr(route, 'path', None) or 'other'


class CountRequests:
    """Counts every HTTP request by route and status and times it to its last byte. An
    exception that escapes the app is counted as the 500 Starlette then answers."""

    def __init__(self, app: Any, metrics: EngineMetrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope['type'] != 'http':
            await self.app(scope, receive, send)
            return
        start, status = time.perf_counter(), 500

        async def send_status(message: dict) -> None:
            nonlocal status
            if message['type'] == 'http.response.start':
                status = message['status']
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = route_of(scope)
            self.metrics.requests.labels(route, str(status)).inc()
            self.metrics.duration.labels(route).observe(time.perf_counter() - start)
