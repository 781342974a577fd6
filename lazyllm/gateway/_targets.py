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

__all__ = ['Targets', 'ROUTES', 'MODEL_PATHS']

# route -> the model types that answer it
ROUTES = {'chat/completions': ('llm', 'vlm'), 'completions': ('llm',),
          'embeddings': ('embed', 'cross_modal_embed'), 'rerank': ('rerank',),
          'audio/transcriptions': ('stt',), 'classify': ('classify',)}
MODEL_PATHS = {f'/v1/{route}': route for route in ROUTES}     # path -> its route


class Targets:
    """The running deployments by name, from ``registry`` (a lazyllm.registry.Registry).

    A model name is a deployment's own name, the name its replicas serve together (the
    deployment and every row with ``replica_of`` that name), or a published variant."""

    def __init__(self, registry: Any, ttl: float = 1.0):
        self.registry, self.ttl = registry, ttl
        self._read = 0.0
        self._rows: dict[str, Any] = {}
        self._groups: dict[str, list] = {}
        self._variants: dict[str, Any] = {}
        self._lock = threading.Lock()

    def rows(self) -> dict[str, Any]:
        """The running deployments by name."""
        return self._fresh()[0]

    def variants(self) -> dict[str, Any]:
        """The published variants whose deployment runs, by name (``Variant`` objects)."""
        return self._fresh()[2]

    def _fresh(self) -> tuple[dict[str, Any], dict[str, list], dict[str, Any]]:
        with self._lock:
            if time.monotonic() - self._read > self.ttl:
                from ..module import Variant
                self._rows = {r.name: r for r in self.registry.all()
                              if r.status == 'running' and r.url}
                self._groups = {}
                for r in self._rows.values():
                    self._groups.setdefault(r.replica_of or r.name, []).append(r)
                self._variants = {v.name: Variant(v.name, v.base, v.spec)
                                  for v in self.registry.variants() if v.base in self._groups}
                self._read = time.monotonic()
            return self._rows, self._groups, self._variants

    def get(self, name: str) -> tuple[list, Any]:
        """(the replicas that answer ``name``, the variant it names or None); no replica:
        the name is not served."""
        rows, groups, variants = self._fresh()
        if name in groups:
            return groups[name], None
        if name in rows:                        # one replica, by its own name
            return [rows[name]], None
        variant = variants.get(name)
        return (groups[variant.base], variant) if variant else ([], None)

    def cards(self) -> list[dict]:
        """``GET /v1/models``: every model name served -- a deployment (with ``replicas``
        when several serve it), with its type and engine; a variant (``variant_of`` its
        deployment)."""
        _, groups, variants = self._fresh()
        cards = [{'id': name, 'object': 'model', 'created': int(rs[0].created),
                  'owned_by': 'lazyllm', 'kind': rs[0].type, 'engine': rs[0].engine,
                  **({'replicas': len(rs)} if len(rs) > 1 else {})}
                 for name, rs in groups.items()]
        cards += [{'id': v.name, 'object': 'model', 'created': int(groups[v.base][0].created),
                   'owned_by': 'lazyllm', 'kind': groups[v.base][0].type,
                   'engine': groups[v.base][0].engine, 'variant_of': v.base,
                   'streams': v.streams} for v in variants.values() if v.name not in groups]
        return sorted(cards, key=lambda c: c['id'])
