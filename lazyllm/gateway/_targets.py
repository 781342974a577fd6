"""Which engine answers a model name: the registry's running deployments.

The gateway routes by the request's ``model``: the name a deployment was registered under
(``start(name=…)``, ``lazyllm deploy --name``), which is also the name its engine answers
to, so a request body goes to the engine as it came. The registry is read at most once a
second, so a deployment started or stopped by another process is seen within a second, and
a busy gateway does not read SQLite on every call.
"""
from __future__ import annotations

import threading
import time
from typing import Any

__all__ = ['Targets', 'ROUTES']

# route -> the model types that answer it
ROUTES = {'chat/completions': ('llm', 'vlm'), 'completions': ('llm',),
          'embeddings': ('embed', 'cross_modal_embed'), 'rerank': ('rerank',),
          'audio/transcriptions': ('stt',), 'classify': ('classify',)}


class Targets:
    """The running deployments by name, from ``registry`` (a lazyllm.registry.Registry)."""

    def __init__(self, registry: Any, ttl: float = 1.0):
        self.registry, self.ttl = registry, ttl
        self._read = 0.0
        self._rows: dict[str, Any] = {}
        self._lock = threading.Lock()

    def rows(self) -> dict[str, Any]:
        with self._lock:
            if time.monotonic() - self._read > self.ttl:
                self._rows = {r.name: r for r in self.registry.all()
                              if r.status == 'running' and r.url}
                self._read = time.monotonic()
            return self._rows

    def get(self, name: str) -> Any:
        return self.rows().get(name)

    def cards(self) -> list[dict]:
        """``GET /v1/models``: every running deployment, with its type and engine."""
        return [{'id': r.name, 'object': 'model', 'created': int(r.created),
                 'owned_by': 'lazyllm', 'kind': r.type, 'engine': r.engine}
                for r in sorted(self.rows().values(), key=lambda r: r.name)]
