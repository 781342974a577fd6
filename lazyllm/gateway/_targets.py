"""Which engine answers a model name: the registry's running deployments.

The gateway routes by the request's ``model``: the name a deployment was registered under
(``start(name=…)``, ``lazyllm deploy --name``), which is also the name its engine answers
to, so a request body goes to the engine as it came. The registry is read at most once a
second, so a deployment started or stopped by another process is seen within a second, and
a busy gateway does not read SQLite on every call.

A published variant (``share(...).publish('smol:geo')``) is a model name too: it is served
while its deployment runs, and answered through ``lazyllm.module.Variant``.
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
        self._variants: dict[str, Any] = {}
        self._lock = threading.Lock()

    def rows(self) -> dict[str, Any]:
        """The running deployments by name."""
        return self._fresh()[0]

    def variants(self) -> dict[str, Any]:
        """The published variants whose deployment runs, by name (``Variant`` objects)."""
        return self._fresh()[1]

    def _fresh(self) -> tuple[dict[str, Any], dict[str, Any]]:
        with self._lock:
            if time.monotonic() - self._read > self.ttl:
                from ..module import Variant
                self._rows = {r.name: r for r in self.registry.all()
                              if r.status == 'running' and r.url}
                self._variants = {v.name: Variant(v.name, v.base, v.spec)
                                  for v in self.registry.variants() if v.base in self._rows}
                self._read = time.monotonic()
            return self._rows, self._variants

    def get(self, name: str) -> tuple[Any, Any]:
        """(the deployment that answers ``name``, the variant it names or None)."""
        rows, variants = self._fresh()
        variant = variants.get(name) if name not in rows else None
        return rows.get(variant.base if variant else name), variant

    def cards(self) -> list[dict]:
        """``GET /v1/models``: every running deployment, with its type and engine, and every
        variant served (``variant_of`` its deployment)."""
        rows, variants = self._fresh()
        cards = [{'id': r.name, 'object': 'model', 'created': int(r.created),
                  'owned_by': 'lazyllm', 'kind': r.type, 'engine': r.engine}
                 for r in rows.values()]
        cards += [{'id': v.name, 'object': 'model', 'created': int(rows[v.base].created),
                   'owned_by': 'lazyllm', 'kind': rows[v.base].type,
                   'engine': rows[v.base].engine, 'variant_of': v.base,
                   'streams': v.streams} for v in variants.values() if v.name not in rows]
        return sorted(cards, key=lambda c: c['id'])
