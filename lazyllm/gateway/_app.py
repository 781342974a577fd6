"""The gateway's HTTP app: OpenAI's API for every running deployment, routed by ``model``.

Each request's body is read once (under a size limit), its ``model`` looked up among the
registry's running deployments (``_targets``), checked to answer the route (a chat to an
embedding model is a 400 saying which route it answers), and sent to that engine as it
came. A stream is passed through chunk by chunk as the engine sends it, never buffered; an
answer that is not a stream comes back with the engine's status and body. Every error the
gateway itself makes has OpenAI's shape ``{"error": {"message", "type", "param", "code"}}``,
so the official SDKs raise their usual exceptions.

The gateway holds no model and runs no engine: it imports FastAPI and httpx, not torch.
"""
from __future__ import annotations

import json
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException

from .._config import config
from .._names import article
from ._keys import authorized
from ._targets import ROUTES, Targets

__all__ = ['create_app', 'MAX_BODY', 'MAX_AUDIO']

MAX_BODY = 4 << 20          # a JSON request, as the engines take it
MAX_AUDIO = 25 << 20        # an audio upload (OpenAI's own limit)
_TYPES = {401: 'authentication_error', 404: 'invalid_request_error', 413: 'invalid_request_error',
          502: 'api_error', 504: 'api_error'}


class Refused(Exception):
    """A request the gateway answers itself, with OpenAI's error shape."""

    def __init__(self, status: int, message: str, code: str, param: str | None = None):
        super().__init__(message)
        self.status, self.code, self.param = status, code, param


def _error(status: int, message: str, code: str | None, param: str | None = None) -> JSONResponse:
    return JSONResponse({'error': {'message': message,
                                   'type': _TYPES.get(status, 'invalid_request_error'),
                                   'param': param, 'code': code}}, status_code=status)


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get('content-length')
    if declared and declared.isdigit() and int(declared) > limit:
        raise Refused(413, f'the request body is {int(declared) >> 20} MiB; the gateway takes '
                      f'at most {limit >> 20} MiB.', 'request_too_large')
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise Refused(413, f'the request body is over {limit >> 20} MiB, the most the '
                          'gateway takes.', 'request_too_large')
    return bytes(raw)


async def _model_of(request: Request, raw: bytes) -> tuple[str, bool]:
    """(the request's ``model``, whether it asks for a stream)."""
    if request.headers.get('content-type', '').startswith('multipart/form-data'):
        form = await request.form()
        model, stream = form.get('model'), str(form.get('stream', '')).lower() == 'true'
    else:
        try:
            body = json.loads(raw)
        except ValueError as e:
            raise Refused(400, f'the request body is not JSON ({e}): send a JSON object with '
                          '"model".', 'invalid_json') from None
        if not isinstance(body, dict):
            raise Refused(400, 'the request body must be a JSON object with "model".',
                          'invalid_request')
        model, stream = body.get('model'), body.get('stream') is True
    if not isinstance(model, str) or not model:
        raise Refused(400, 'the request names no "model": give one of GET /v1/models.',
                      'missing_model', 'model')
    return model, stream


def create_app(targets: Targets, *, keys: tuple[str, ...] = (), max_body: int = MAX_BODY,
               timeout: float = 600.0) -> FastAPI:
    """The gateway app over ``targets``; ``keys``: the API keys a caller must show (none:
    open, for a gateway on the loopback interface only)."""
    app = FastAPI(title='lazyllm gateway', docs_url=None, redoc_url=None, openapi_url=None)
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=256)
    engines = httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=10.0), limits=limits)
    app.router.on_shutdown.append(engines.aclose)

    @app.middleware('http')
    async def require_key(request: Request, call_next: Any) -> Response:
        if request.url.path.startswith('/v1/') and not authorized(
                request.headers.get('authorization'), keys):
            return _error(401, 'missing or wrong API key: send Authorization: Bearer <key> '
                          'with a key this gateway was given.', 'invalid_api_key')
        return await call_next(request)

    @app.exception_handler(Refused)
    async def refused(request: Request, e: Refused) -> JSONResponse:
        return _error(e.status, str(e), e.code, e.param)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, e: HTTPException) -> JSONResponse:
        return _error(e.status_code, str(e.detail), 'not_found' if e.status_code == 404 else
                      'method_not_allowed' if e.status_code == 405 else None)

    @app.get('/health')
    async def health() -> dict:
        return {'status': 'ok', 'models': len(targets.rows())}

    @app.get('/v1/models')
    async def models() -> dict:
        return {'object': 'list', 'data': targets.cards()}

    async def forward(request: Request, route: str) -> Response:
        raw = await _body(request, MAX_AUDIO if route == 'audio/transcriptions' else max_body)
        model, stream = await _model_of(request, raw)
        row = targets.get(model)
        if row is None:
            served = ', '.join(sorted(targets.rows())) or 'none yet (lazyllm deploy MODEL)'
            raise Refused(404, f'model {model!r} is not served here; served: {served}.',
                          'model_not_found', 'model')
        if row.type and row.type not in ROUTES[route]:
            answers = [r for r, kinds in ROUTES.items() if row.type in kinds]
            raise Refused(400, f'{model!r} is {article(row.type)} {row.type} model: it answers '
                          f'{", ".join("/v1/" + r for r in answers) or "no OpenAI route"}, '
                          f'not /v1/{route}.', 'wrong_model_type', 'model')
        headers = {'content-type': request.headers.get('content-type', 'application/json')}
        if config['engine_api_key']:
            headers['authorization'] = f'Bearer {config["engine_api_key"]}'
        sent = engines.build_request('POST', row.url.rstrip('/') + '/' + route, content=raw,
                                     headers=headers)
        try:
            answer = await engines.send(sent, stream=stream)
        except httpx.TimeoutException:
            raise Refused(504, f'the engine of {model!r} did not answer within {timeout:.0f}s.',
                          'engine_timeout') from None
        except httpx.HTTPError as e:
            raise Refused(502, f'the engine of {model!r} at {row.url} cannot be reached '
                          f'({type(e).__name__}): it may have stopped; `lazyllm ps` shows it.',
                          'engine_unreachable') from None
        kind = answer.headers.get('content-type', 'application/json')
        if not stream:
            return Response(answer.content, answer.status_code, media_type=kind)
        return StreamingResponse(answer.aiter_raw(), answer.status_code, media_type=kind,
                                 headers={'cache-control': 'no-cache'},
                                 background=BackgroundTask(answer.aclose))

    def endpoint(route: str) -> Any:
        async def handle(request: Request) -> Response:
            return await forward(request, route)
        return handle

    for route in ROUTES:
        app.post(f'/v1/{route}', name=route)(endpoint(route))
    return app
