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
        self._options: dict[str, Any] = dict(
            api_key=key, headers=headers or None, timeout=timeout, max_retries=max_retries,
            auth_fix=f'set {supplier.key_env} or pass api_key=' +
                     (f' (keys: {supplier.signup})' if supplier.signup else ''))
        self._lock = threading.Lock()
        self._sync: dict[str, Any] = {}
        self._async: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._plain: dict[bool, Any] = {}   # loopback or not -> keyless client

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

    def plain(self, url: str) -> Any:
        """A client without the key or the supplier's headers, for ``url`` on another host
        (proxy variables apply unless it is this machine, as for the API clients)."""
        from ...client import is_loopback
        local = is_loopback(url)
        with self._lock:
            client = self._plain.get(local)
            if client is None:
                from ...client import Client
                opts = self._options
                base = 'http://127.0.0.1/' if local else 'https://other-host.invalid/'
                client = self._plain[local] = Client(base, timeout=opts['timeout'],
                                                     max_retries=opts['max_retries'])
            return client

    def close(self) -> None:
        with self._lock:
            for client in self._sync.values():
                client.close()
            self._sync.clear()
            for client in self._plain.values():
                client.close()
            self._plain.clear()
            self._async.clear()
