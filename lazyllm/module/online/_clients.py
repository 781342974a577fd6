"""The HTTP clients of one online module and its shares: pooled, created on first use.

One sync client per base URL (a call may override the URL), one async client per event loop
and base URL (httpx pools belong to a loop), and one *plain* client without the key for
other hosts a supplier sends us to (object-store uploads, generated images): the key is
never sent there.
"""
from __future__ import annotations

import threading
import weakref
from typing import Any

__all__ = ['Clients']


class Clients:
    def __init__(self, supplier: Any, key: str | None, *, timeout: float | None,
                 max_retries: int | None):
        headers = dict(supplier.headers)
        if key and supplier.key_header != 'authorization':
            headers[supplier.key_header] = key
            key = None
        self._options = dict(
            api_key=key, headers=headers or None, timeout=timeout, max_retries=max_retries,
            auth_fix=f'set {supplier.key_env} or pass api_key=' +
                     (f' (keys: {supplier.signup})' if supplier.signup else ''))
        self._lock = threading.Lock()
        self._sync: dict[str, Any] = {}
        self._async: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._plain: Any = None

    def check(self, url: str) -> None:
        """Build the client of ``url`` now, so that bad settings fail at construction."""
        self.api(url)

    def api(self, url: str) -> Any:
        with self._lock:
            client = self._sync.get(url)
            if client is None:
                from ...client import Client
                client = self._sync[url] = Client(url, **self._options)
            return client

    def aapi(self, url: str) -> Any:
        import asyncio
        loop = asyncio.get_running_loop()
        with self._lock:
            per_loop = self._async.setdefault(loop, {})
            client = per_loop.get(url)
            if client is None:
                from ...client import AsyncClient
                client = per_loop[url] = AsyncClient(url, **self._options)
            return client

    def plain(self) -> Any:
        """A client without the key or the supplier's headers, for other hosts."""
        with self._lock:
            if self._plain is None:
                from ...client import Client
                opts = self._options
                self._plain = Client('https://other-host.invalid/', timeout=opts['timeout'],
                                     max_retries=opts['max_retries'])
            return self._plain

    def close(self) -> None:
        with self._lock:
            for client in self._sync.values():
                client.close()
            self._sync.clear()
            if self._plain is not None:
                self._plain.close()
                self._plain = None
            self._async.clear()
