"""The clients of a deployment's engine, and the calls in flight on each engine generation.

Every launch, attach or swap of a Deployment is a new *generation*. A call *leases* the
client of the generation it starts on (``lease()``): the lease counts the call in flight on
that generation and gives it the names the engine answered to then. When a restart or a swap
replaces the engine, its sync client is *retired*, and closed only when the last call of its
generation ends, so one caller's restart never closes the connection pool under another
caller; ``drain`` waits for a replaced generation's calls to end before its engine is
stopped.

``Clients`` is the half of ``Deployment`` that does this; it uses the deployment's lock,
``url``, ``generation``, ``served_name``, ``adapter`` and ``api_key``.
"""
from __future__ import annotations

import collections
import contextlib
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any, Iterator, NamedTuple

from ..errors import DeployError

__all__ = ['Clients', 'Lease']


class Clients:
    """See the module docstring."""

    _lock: threading.RLock
    url: str | None
    generation: int
    served_name: str | None
    adapter: str | None

    if TYPE_CHECKING:   # the host class (Deployment) provides it, as a read-only property
        @property
        def api_key(self) -> str | None: ...

    def _init_clients(self) -> None:
        self._client: _Leased | None = None
        self._aclients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._inflight: collections.Counter = collections.Counter()  # generation -> calls
        self._drained = threading.Condition(self._lock)

    def client(self) -> Any:
        """The pooled sync client for this deployment's URL. A caller that may outlive a
        restart (any call of the engine) takes it through ``lease()`` instead."""
        with self._lock:
            if self.url is None:
                raise DeployError('the deployment is not started: call start() first.')
            _touch(self)
            if self._client is None:
                from ..client import Client
                self._client = _Leased(Client(self.url, self.api_key), self.generation)
            return self._client.client

    @contextlib.contextmanager
    def lease(self, *, asynchronous: bool = False) -> Iterator['Lease']:
        """A ``Lease`` for one call: the client (async, for the running event loop, when
        ``asynchronous``), the generation, and the names its engine answers to. The call
        counts as in flight on that generation's engine until it ends (``drain`` waits for
        it), and a sync client stays open until then even if a restart or a swap replaces it
        meanwhile. Waits while another caller restarts the engine (the lock is held by the
        launch)."""
        with self._lock:
            client = self.aclient() if asynchronous else self.client()
            held = None if asynchronous else self._client
            generation = self.generation
            self._inflight[generation] += 1
            lease = Lease(client, generation, self.served_name, self.adapter)
        try:
            yield lease
        finally:
            with self._lock:
                self._inflight[generation] -= 1
                if not self._inflight[generation]:
                    del self._inflight[generation]
                    self._drained.notify_all()
                    if held is not None and held.retired:
                        held.client.close()

    def drain(self, generation: int, timeout: float) -> int:
        """Wait (up to ``timeout`` s) until no call of ``generation`` is in flight; returns
        how many still are."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._inflight[generation]:
                left = deadline - time.monotonic()
                if left <= 0:
                    return self._inflight[generation]
                self._drained.wait(left)
            self._inflight.pop(generation, None)
            return 0

    def aclient(self) -> Any:
        """An async client for the running event loop (httpx pools are per loop)."""
        import asyncio
        loop = asyncio.get_running_loop()
        with self._lock:
            if self.url is None:
                raise DeployError('the deployment is not started: call start() first.')
            _touch(self)
            client = self._aclients.get(loop)
            if client is None:
                from ..client import AsyncClient
                client = self._aclients[loop] = AsyncClient(self.url, self.api_key)
            return client

    def _close_clients(self) -> None:
        """Retire the sync client: closed now if no call uses it, else by its last call."""
        held, self._client = self._client, None
        if held is not None:
            held.retired = True
            if not self._inflight[held.generation]:
                held.client.close()
        self._aclients.clear()   # their loops close their sockets


class _Leased:
    """A sync client, the generation of the engine it calls, and whether a restart or a
    swap has replaced it (then it is closed when that generation's last call ends)."""
    __slots__ = ('client', 'generation', 'retired')

    def __init__(self, client: Any, generation: int):
        self.client, self.generation, self.retired = client, generation, False


class Lease(NamedTuple):
    """One call's hold on an engine: its client, its generation, and the names it answers
    to then (a swap may change them while the call runs)."""
    client: Any
    generation: int
    served_name: str | None
    adapter: str | None


def _touch(dep: Any) -> None:
    from ._pool import pool
    pool.touch(dep)
