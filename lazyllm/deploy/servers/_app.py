"""What every built-in engine server shares: the FastAPI app with /health, /v1/models and
/metrics, the optional API key, OpenAI-style error bodies, body limits, and running it with
uvicorn.

Engine servers run in their own process (``python -m lazyllm.deploy.servers KIND …``), so
this module may import fastapi at the top; the lazyllm package itself never imports it.
An engine adds its routes to the app returned by ``create_app`` and raises ``ApiError`` for
a request it cannot serve; the client maps the status back to the lazyllm error tree.

``GET /metrics`` (Prometheus' text format, ``_metrics``) needs no API key, as vLLM's: a
scraper carries none, and its labels are route templates and statuses, never a request's
content or model. An engine records its own numbers into ``app.state.metrics``.

Every error, on every route (unknown routes and wrong methods included), has OpenAI's shape
``{"error": {"message", "type", "param", "code"}}`` with ``code`` a string or null, so the
official SDKs and LangChain read it. Nothing reaches a client as a plain-text 500.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import socket
import time
from typing import Any, Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from .._identity import DRAIN_ENV, TOKEN_ENV, TOKEN_HEADER
from ._metrics import CONTENT_TYPE, CountRequests, EngineMetrics
from ._middleware import ReportToken, RequireKey

API_KEY_ENV = 'LAZYLLM_ENGINE_API_KEY'   # passed by env, never argv (argv shows in `ps`)
MAX_BODY_ENV = 'LAZYLLM_ENGINE_MAX_BODY_MB'
DEFAULT_MAX_BODY = 4 << 20      # bytes; a 4 MiB JSON body is ~1M tokens of text
MAX_DEPTH = 64                  # nesting of JSON objects/arrays a request may have
_SURROGATE_ESCAPE = re.compile(rb'\\u[dD][89a-fA-F]')   # a \\uD800-\\uDFFF escape in the raw JSON
log = logging.getLogger('lazyllm.engine')

try:   # orjson (in the `local` extra) encodes vectors ~10x faster than the json module
    import orjson

    class FastJSONResponse(JSONResponse):
        def render(self, content: Any) -> bytes:
            return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)
except ImportError:  # pragma: no cover - plain json still works
    # the plain class under the fast one's name (unused-ignore: without fastapi it is Any)
    FastJSONResponse = JSONResponse  # type: ignore[misc, assignment, unused-ignore]

_CODES = {401: 'invalid_api_key', 404: 'not_found', 405: 'method_not_allowed',
          413: 'request_too_large'}
_TYPES = {401: 'authentication_error', 404: 'invalid_request_error'}


class ApiError(Exception):
    """A request the engine refuses: becomes ``{"error": {...}}`` with ``status``.
    ``param`` names the request field at fault; ``code`` is OpenAI's string code."""

    def __init__(self, status: int, message: str, type: str = '', param: str | None = None,
                 code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.param = status, message, param
        self.type = type or ('server_error' if status >= 500 else
                             _TYPES.get(status, 'invalid_request_error'))
        self.code = code or _CODES.get(status)


def error_body(message: str, type: str = 'invalid_request_error', param: str | None = None,
               code: str | None = None) -> dict:
    return {'error': {'message': message, 'type': type, 'param': param, 'code': code}}


class _AsciiJSON(JSONResponse):
    """Errors are ASCII JSON: a message that quotes the request (a field name with a lone
    surrogate, say) can always be encoded."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, separators=(',', ':')).encode()


def error_response(e: ApiError, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return _AsciiJSON(error_body(e.message, e.type, e.param, e.code), status_code=e.status,
                      headers=headers)


def model_card(name: str, kind: str, created: int, max_model_len: int | None = None,
               **extra: Any) -> dict:
    card = {'id': name, 'object': 'model', 'created': created, 'owned_by': 'lazyllm',
            'kind': kind, **extra}
    if max_model_len:
        card['max_model_len'] = max_model_len
    return card


def create_app(*, served_name: str, kind: str, max_model_len: int | None = None,
               api_key: str | None = None, aliases: tuple = ()) -> FastAPI:
    """The app every engine starts from: health, model list, auth and error handling.

    ``app.state.cards`` is the list ``GET /v1/models`` answers (an engine serving adapters
    replaces it); ``app.state.names`` maps every name a request may give in ``model`` to the
    card's id (``check_model``)."""
    api_key = api_key if api_key is not None else os.environ.get(API_KEY_ENV) or None
    app = FastAPI(title=f'lazyllm {kind} engine', docs_url=None, redoc_url=None)
    created = int(time.time())
    app.state.cards = [model_card(served_name, kind, created, max_model_len)]
    app.state.names = {n: served_name for n in (served_name, *aliases)}
    app.state.max_body = int(float(os.environ.get(MAX_BODY_ENV) or 0) * 2**20) \
        or DEFAULT_MAX_BODY
    app.state.metrics = EngineMetrics()

    if api_key:
        app.add_middleware(RequireKey, key=api_key, refuse=lambda: error_response(ApiError(
            401, 'missing or wrong API key: send "Authorization: Bearer <key>"')))
    token = os.environ.get(TOKEN_ENV)
    if token:     # lazyllm launched us: say so on every response, 401s too (outermost)
        app.add_middleware(ReportToken, header=TOKEN_HEADER, token=token)
    app.add_middleware(CountRequests, metrics=app.state.metrics)   # outermost: 401s count too

    @app.exception_handler(ApiError)
    async def api_error(_: Request, e: ApiError) -> JSONResponse:
        return error_response(e)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, e: HTTPException) -> JSONResponse:
        if e.status_code == 404:
            message = (f'Invalid URL ({request.method} {request.url.path}): this {kind} engine '
                       f'serves {", ".join(_routes(app))}')
        elif e.status_code == 405:
            message = (f'{request.method} is not allowed on {request.url.path}: use '
                       f'{e.headers.get("Allow", "another method") if e.headers else "POST"}')
        else:
            message = str(e.detail)
        return error_response(ApiError(e.status_code, message), e.headers)   # 405: Allow

    @app.exception_handler(RequestValidationError)
    async def bad_request(_: Request, e: RequestValidationError) -> JSONResponse:
        parts = ['.'.join(str(p) for p in err.get('loc', ())[1:]) + ': ' + err.get('msg', '')
                 for err in e.errors()]
        return error_response(ApiError(400, 'invalid request: ' + '; '.join(parts)))

    @app.exception_handler(Exception)
    async def crashed(_: Request, e: Exception) -> JSONResponse:   # a bug: still OpenAI's shape
        log.exception('request failed')
        return error_response(ApiError(500, f'the engine failed on this request: '
                                            f'{type(e).__name__}: {e}'))

    @app.get('/health')
    async def health() -> dict:
        return {'status': 'ok', 'model': served_name, 'kind': kind}

    @app.get('/metrics', include_in_schema=False)
    async def metrics() -> Response:
        return Response(app.state.metrics.text(), media_type=CONTENT_TYPE)

    @app.get('/v1/models')
    async def models() -> dict:
        return {'object': 'list', 'data': app.state.cards}

    @app.get('/v1/models/{model_id:path}')
    async def model(model_id: str) -> dict:
        ident = app.state.names.get(model_id, model_id)
        card = next((c for c in app.state.cards if c['id'] == ident), None)
        if card is None:
            raise model_not_found(app, model_id)
        return card

    return app


def _routes(app: FastAPI) -> list[str]:
    paths = (getattr(r, 'path', '/') for r in app.router.routes)   # a Mount has no path
    return sorted({p for p in paths if p.startswith(('/v1/', '/health')) and '{' not in p})


def model_not_found(app: FastAPI, model: Any) -> ApiError:
    names = ', '.join(repr(n) for n in app.state.names)
    return ApiError(404, f'The model {model!r} does not exist here: this engine serves {names} '
                         '(GET /v1/models lists them)', param='model', code='model_not_found')


def check_model(app: FastAPI, body: dict) -> str:
    """The card id a request's ``model`` names (the first card when it gives none); an
    unknown name is a 404 ``model_not_found`` as OpenAI and vLLM answer."""
    model = body.get('model')
    if model is None:
        return app.state.cards[0]['id']
    if not isinstance(model, str):
        raise ApiError(400, f'model must be a string, got {type(model).__name__}',
                       param='model', code='invalid_type')
    if model not in app.state.names:
        raise model_not_found(app, model)
    return app.state.names[model]


def _depth_ok(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, (dict, list)):
            if d > limit:
                return False
            stack.extend((x, d + 1) for x in (v.values() if isinstance(v, dict) else v))
    return True


def _parse(raw: bytes) -> tuple[Any, str]:
    """(the JSON value, '') or (None, why it is not acceptable JSON)."""
    try:
        body = json.loads(raw)
    except RecursionError:
        return None, f'it is nested more than {MAX_DEPTH} levels deep'
    except ValueError as e:    # not JSON, not UTF-8, or an int over Python's digit limit
        return None, f'it is not valid JSON ({e})'
    if _SURROGATE_ESCAPE.search(raw):   # rare: only then re-encode to find a lone one
        try:           # valid JSON may still escape a lone surrogate, which is not text
            json.dumps(body, ensure_ascii=False).encode()
        except UnicodeEncodeError:
            return None, 'it holds a lone UTF-16 surrogate (\\ud800-\\udfff), which is not text'
    return body, ''


async def read_body(request: Request, example: str) -> dict:
    """The JSON object the request carries: bodies over the size limit are a 413 (refused
    before they are read when Content-Length says so), invalid JSON, non-objects and JSON
    nested deeper than ``MAX_DEPTH`` are a 400. Large bodies are parsed off the event loop."""
    limit = request.app.state.max_body
    declared = request.headers.get('content-length', '')
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(int(declared), limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(size, limit)
        chunks.append(chunk)
    raw = b''.join(chunks)
    body, why = _parse(raw) if size < 1 << 16 else await asyncio.to_thread(_parse, raw)
    if why:
        raise ApiError(400, f'the request body cannot be read: {why}; send a JSON object, '
                            f'e.g. {example}')
    if not isinstance(body, dict):
        raise ApiError(400, f'the request body must be a JSON object, e.g. {example}')
    if not _depth_ok(body, MAX_DEPTH):
        raise ApiError(400, f'the request JSON is nested more than {MAX_DEPTH} levels deep')
    return body


def _too_large(size: int, limit: int) -> ApiError:
    return ApiError(413, f'the request body is over {limit / 2**20:g} MiB ({size} bytes read): '
                         f'send less, or start the engine with {MAX_BODY_ENV}=<MiB> '
                         '(engine option max_body_mb)')


def serve(app: FastAPI, sock: socket.socket) -> None:
    """Run ``app`` on the listening ``sock`` until SIGTERM/SIGINT, then finish the calls in
    flight for up to ``DRAIN_ENV`` seconds. Logs go to stderr, which the launcher captures."""
    import uvicorn
    try:
        drain = max(0.0, float(os.environ.get(DRAIN_ENV) or 5))
    except ValueError:
        drain = 5.0
    # uvicorn annotates int but passes it to asyncio.wait_for, which takes a float
    # (unused-ignore: without uvicorn installed, the checker reads it as Any)
    config = uvicorn.Config(app, log_level='info', access_log=False,
                            timeout_graceful_shutdown=drain)  # type: ignore[arg-type, unused-ignore]
    uvicorn.Server(config).run(sockets=[sock])
