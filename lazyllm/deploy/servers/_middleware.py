"""The engines' HTTP middlewares, written as plain ASGI.

Starlette's ``@app.middleware('http')`` (BaseHTTPMiddleware) hands the endpoint a request
whose ``is_disconnected()`` never sees the client go away, so the LLM engine could not
cancel the generation of a client that timed out or closed its stream. These wrap the ASGI
``send``/``receive`` instead and leave the request untouched.
"""
from __future__ import annotations

import hmac
from typing import Any, Callable

__all__ = ['RequireKey', 'ReportToken', 'OPEN']

OPEN = ('/health', '/metrics')     # the paths that need no API key


class RequireKey:
    """401 in OpenAI's error shape unless ``Authorization: Bearer <key>``; ``/health`` and
    ``/metrics`` answer without a key (a readiness probe or a Prometheus scraper has none)."""

    def __init__(self, app: Any, key: str, refuse: Callable[[], Any]):
        self.app, self.expected, self.refuse = app, f'Bearer {key}'.encode(), refuse

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope['type'] == 'http' and scope.get('path') not in OPEN:
            given = dict(scope.get('headers') or ()).get(b'authorization', b'')
            if not hmac.compare_digest(given, self.expected):
                await self.refuse()(scope, receive, send)
                return
        await self.app(scope, receive, send)


class ReportToken:
    """Every response carries the launch token (deploy/_identity.py)."""

    def __init__(self, app: Any, header: str, token: str):
        self.app, self.header = app, (header.encode('latin-1'), token.encode('latin-1'))

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope['type'] != 'http':
            await self.app(scope, receive, send)
            return

        async def send_with_token(message: dict) -> None:
            if message['type'] == 'http.response.start':
                message = {**message, 'headers': [*message.get('headers', ()), self.header]}
            await send(message)

        await self.app(scope, receive, send_with_token)
