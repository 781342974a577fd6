"""What every built-in engine server shares: the FastAPI app with /health and /v1/models,
the optional API key, OpenAI-style error bodies, and running it with uvicorn.

Engine servers run in their own process (``python -m lazyllm.deploy.servers KIND …``), so
this module may import fastapi at the top; the lazyllm package itself never imports it.
An engine adds its routes to the app returned by ``create_app`` and raises ``ApiError`` for
a request it cannot serve; the client maps the status back to the lazyllm error tree.
"""
from __future__ import annotations

import hmac
import logging
import os
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

API_KEY_ENV = 'LAZYLLM_ENGINE_API_KEY'   # passed by env, never argv (argv shows in `ps`)
log = logging.getLogger('lazyllm.engine')

try:   # orjson (in the `local` extra) encodes vectors ~10x faster than the json module
    import orjson

    class FastJSONResponse(JSONResponse):
        def render(self, content: Any) -> bytes:
            return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)
except ImportError:  # pragma: no cover - plain json still works
    FastJSONResponse = JSONResponse  # type: ignore[misc]


class ApiError(Exception):
    """A request the engine refuses: becomes ``{"error": {...}}`` with ``status``."""

    def __init__(self, status: int, message: str, type: str = 'invalid_request_error'):
        super().__init__(message)
        self.status, self.message, self.type = status, message, type


def error_body(message: str, type: str, code: int) -> dict:
    return {'error': {'message': message, 'type': type, 'code': code}}


def create_app(*, served_name: str, kind: str, max_model_len: int | None = None,
               api_key: str | None = None) -> FastAPI:
    """The app every engine starts from: health, model list, auth and error handling."""
    api_key = api_key if api_key is not None else os.environ.get(API_KEY_ENV) or None
    app = FastAPI(title=f'lazyllm {kind} engine', docs_url=None, redoc_url=None)
    created = int(time.time())

    if api_key:
        expected = f'Bearer {api_key}'.encode()

        @app.middleware('http')
        async def check_key(request: Request, call_next: Any) -> Any:
            if request.url.path != '/health':
                given = request.headers.get('authorization', '').encode()
                if not hmac.compare_digest(given, expected):
                    return JSONResponse(error_body(
                        'missing or wrong API key: send "Authorization: Bearer <key>"',
                        'authentication_error', 401), status_code=401)
            return await call_next(request)

    @app.exception_handler(ApiError)
    async def api_error(_: Request, e: ApiError) -> JSONResponse:
        return JSONResponse(error_body(e.message, e.type, e.status), status_code=e.status)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_: Request, e: RequestValidationError) -> JSONResponse:
        parts = ['.'.join(str(p) for p in err.get('loc', ())[1:]) + ': ' + err.get('msg', '')
                 for err in e.errors()]
        return JSONResponse(error_body('invalid request: ' + '; '.join(parts),
                                       'invalid_request_error', 400), status_code=400)

    @app.get('/health')
    async def health() -> dict:
        return {'status': 'ok', 'model': served_name, 'kind': kind}

    @app.get('/v1/models')
    async def models() -> dict:
        card = {'id': served_name, 'object': 'model', 'created': created,
                'owned_by': 'lazyllm', 'kind': kind}
        if max_model_len:
            card['max_model_len'] = max_model_len
        return {'object': 'list', 'data': [card]}

    return app


async def read_body(request: Request, example: str) -> dict:
    """The JSON object the request carries (invalid JSON and non-objects are one 400)."""
    try:
        body = await request.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        return body
    raise ApiError(400, f'the request body must be a JSON object, e.g. {example}')


def serve(app: FastAPI, host: str, port: int) -> None:
    """Run ``app`` until SIGTERM/SIGINT. Logs go to stderr, which the launcher captures."""
    import uvicorn
    uvicorn.run(app, host=host, port=port, log_level='info', access_log=False,
                timeout_graceful_shutdown=5)
