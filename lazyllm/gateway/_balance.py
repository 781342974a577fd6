"""Replicas: several deployments behind one model name, and which one takes the next call.

A deployment registered with ``replica_of='smol'`` (``start(name='smol-2',
replica_of='smol')``, ``lazyllm deploy --replicas N``) is served under ``smol`` together
with ``smol`` itself. Calls go round-robin over the replicas that answer. One that cannot be
reached, or that answers 503 (it is draining or overloaded), is taken out for ``EJECT_FOR``
seconds and the call goes to the next one: a request is retried only when no output of it
can have begun. After the pause the replica gets calls again; if it still fails it is taken
out again. When every replica is out, they are tried anyway, longest out first.
"""
from __future__ import annotations

import itertools
import threading
import time
from typing import Any, Sequence

__all__ = ['Balancer', 'EJECT_FOR']

EJECT_FOR = 10.0    # seconds a replica that failed gets no calls


class Balancer:
    """Round-robin over replicas, skipping the ones taken out (by URL)."""

    def __init__(self, eject_for: float = EJECT_FOR):
        self.eject_for = eject_for
        self._turn = itertools.count()
        self._out: dict[str, float] = {}        # url -> when it may take calls again
        self._lock = threading.Lock()

    def order(self, replicas: Sequence[Any]) -> list[Any]:
        """``replicas`` in the order to try them: the next in turn first, the ones taken
        out last (the one back soonest first)."""
        if len(replicas) < 2:
            return list(replicas)
        start = next(self._turn) % len(replicas)
        turn = list(replicas[start:]) + list(replicas[:start])
        now = time.monotonic()
        with self._lock:
            back = {r.url: self._out.get(r.url, 0.0) for r in turn}
        ready = [r for r in turn if back[r.url] <= now]
        return ready + sorted((r for r in turn if back[r.url] > now), key=lambda r: back[r.url])

    def eject(self, replica: Any) -> None:
        with self._lock:
            self._out[replica.url] = time.monotonic() + self.eject_for

    def restore(self, replica: Any) -> None:
        """A replica that answered: it takes calls again at once."""
        if replica.url in self._out:
            with self._lock:
                self._out.pop(replica.url, None)
