"""The gateway's HTTP app: OpenAI's API for every running deployment, routed by ``model``.

Each request's body is read once (under a size limit), its ``model`` looked up among the
registry's running deployments (``_targets``), checked to answer the route (a chat to an
embedding model is a 400 saying which route it answers), and sent to that engine as it
came. A stream is passed through chunk by chunk as the engine sends it, never buffered; an
answer that is not a stream comes back with the engine's status and body. Every error the
gateway itself makes has OpenAI's shape ``{"error": {"message", "type", "param", "code"}}``,
so the official SDKs raise their usual exceptions.

The gateway holds no model and runs no engine: it imports FastAPI and aiohttp, not torch.
"""
from __future__ import annotations

import asyncio
import json
from email.message import Message
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException

from .._config import config
from .._names import article
from ..errors import LazyLLMError
from ._balance import Balancer
from ._errors import Refused, error_response, unauthorized
from ._keys import authorized
from ._manage import add_management
from ._metrics import instrument
from ._page import add_page
from ._targets import ROUTES, Targets
from ._upstream import TimedOut, Unreachable, Upstream, relay

__all__ = ['create_app', 'MAX_BODY', 'MAX_AUDIO']

MAX_BODY = 4 << 20          # a JSON request, as the engines take it
MAX_AUDIO = 25 << 20        # an audio upload (OpenAI's own limit)


def _size(n: int) -> str:
    return f'{n / 2**20:.3g} MiB' if n >= 2**20 else f'{n:,} bytes'


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get('content-length')
    if declared and declared.isdigit() and int(declared) > limit:
        raise Refused(413, f'the request body is {_size(int(declared))}; the gateway takes at '
                      f'most {_size(limit)} (lazyllm serve --max-body-mb).', 'request_too_large')
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise Refused(413, f'the request body is over {_size(limit)}, the most the gateway '
                          'takes (lazyllm serve --max-body-mb).', 'request_too_large')
    return bytes(raw)


def _form_fields(raw: bytes, content_type: str) -> dict[str, str]:
    """The small text fields of a multipart/form-data body (the file parts are skipped): the
    gateway needs only ``model`` and ``stream`` of an upload, and passes the body on as it
    came, so only each part's headers are read."""
    header = Message()
    header['content-type'] = content_type
    boundary = header.get_param('boundary')
    if not isinstance(boundary, str) or not boundary:
        raise Refused(400, 'a multipart/form-data body needs a boundary in its Content-Type.',
                      'invalid_request')
    fields = {}
    for part in raw.split(b'--' + boundary.encode('latin-1')):
        head, sep, value = part.partition(b'\r\n\r\n')
        part_headers = Message()
        for line in head.decode('latin-1').splitlines():
            key, colon, text = line.partition(':')
            if colon:
                part_headers[key.strip()] = text.strip()
        name = part_headers.get_param('name', header='content-disposition')
        if sep and isinstance(name, str) and part_headers.get_param(
                'filename', header='content-disposition') is None and len(value) < 4096:
            fields[name] = value.removesuffix(b'\r\n').decode('utf-8', 'replace')
    return fields


def _model_of(request: Request, raw: bytes) -> tuple[str, bool, dict | None]:
    """(the request's ``model``, whether it asks for a stream, the JSON body: None for an
    upload)."""
    body = None
    if request.headers.get('content-type', '').startswith('multipart/form-data'):
        form = _form_fields(raw, request.headers['content-type'])
        model, stream = form.get('model'), form.get('stream', '').lower() == 'true'
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
    return model, stream, body


def _as_variant(variant: Any, route: str, body: dict | None, stream: bool) -> dict:
    """The body the engine gets for a request naming a published variant."""
    if route != 'chat/completions' or body is None:
        raise Refused(400, f'{variant.name!r} is a published chat variant of {variant.base!r}: '
                      f'it answers /v1/chat/completions only; send /v1/{route} to '
                      f'{variant.base!r}.', 'wrong_model_type', 'model')
    if stream and not variant.streams:
        raise Refused(400, f'{variant.name!r} formats the whole answer (its formatter needs all '
                      'of it), so it does not stream: send "stream": false, or use '
                      f'{variant.base!r} to stream.', 'stream_not_supported', 'stream')
    try:
        return variant.chat_body(body)
    except LazyLLMError as e:
        raise Refused(400, f'{variant.name!r}: {e}', 'invalid_request', 'messages') from None


def _shaped(variant: Any, content: bytes) -> bytes:
    """A variant's whole answer with its formatter applied, as the share would."""
    try:
        return json.dumps(variant.shape(json.loads(content))).encode()
    except LazyLLMError as e:
        raise Refused(502, f'the formatter of {variant.name!r} failed on the model\'s answer: '
                      f'{e}', 'format_failed') from None


class _RequireKey:
    """401 on ``/v1/`` routes without one of ``keys``. Plain ASGI, not
    ``@app.middleware('http')``: Starlette's BaseHTTPMiddleware hides the client's
    disconnect from the endpoint, and the gateway must see it to cancel the engine's work."""

    def __init__(self, app: Any, keys: tuple[str, ...]):
        self.app, self.keys = app, keys

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope['type'] == 'http' and scope['path'].startswith('/v1/'):
            given = dict(scope.get('headers') or ()).get(b'authorization', b'')
            if not authorized(given, self.keys):
                await unauthorized()(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _payloads(raw: bytes, body: dict | None, variant: Any, built: dict | None) -> Any:
    """``for_replica(row)``: the bytes a replica gets. A deployment answers to its own name,
    so a replica of another name gets the body with its ``model`` changed (an upload goes as
    it came: the engine reads no model from it). ``built``: a variant's body."""
    if built is not None:
        adapter = built['model'] != variant.base
        return lambda row: json.dumps({**built, 'model': built['model'] if adapter
                                       else row.name}).encode()
    if body is None:
        return lambda row: raw
    return lambda row: raw if body['model'] == row.name else \
        json.dumps({**body, 'model': row.name}).encode()


async def _unless_gone(request: Request, work: Any) -> Any:
    """``work`` awaited, or cancelled when the client goes away first (``None`` then):
    cancelling closes the connection to the engine, which stops generating for nobody.
    The body is read already, so the next ASGI message can only be the disconnect."""
    task, gone = asyncio.ensure_future(work), asyncio.ensure_future(request.receive())
    try:
        await asyncio.wait((task, gone), return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
    if task.done():
        return task.result()
    task.cancel()
    try:
        await task
    except (asyncio.CancelledError, Exception):
        pass
    return None


def create_app(targets: Targets, *, keys: tuple[str, ...] = (), max_body: int = MAX_BODY,
               timeout: float = 600.0, admin_keys: tuple[str, ...] = ()) -> FastAPI:
    """The gateway app over ``targets``; ``keys``: the API keys a caller must show (none:
    open, for a gateway on the loopback interface only); ``admin_keys``: those the
    management API (``/v1/deployments``, ``_manage``) asks for (none: ``keys`` do)."""
    app = FastAPI(title='lazyllm gateway', docs_url=None, redoc_url=None, openapi_url=None)
    engines = Upstream(timeout)
    app.router.on_shutdown.append(engines.close)
    balancer = Balancer()

    keys = keys + admin_keys if keys else ()   # an admin key may call the models too
    if keys:
        app.add_middleware(_RequireKey, keys=keys)
    add_management(app, keys=keys, admin_keys=admin_keys)   # /v1/deployments

    @app.exception_handler(Refused)
    async def refused(request: Request, e: Refused) -> JSONResponse:
        return error_response(e.status, str(e), e.code, e.param)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, e: HTTPException) -> JSONResponse:
        return error_response(e.status_code, str(e.detail), 'not_found' if e.status_code == 404 else
                      'method_not_allowed' if e.status_code == 405 else None)

    @app.get('/health')
    async def health() -> dict:
        return {'status': 'ok', 'models': len(targets.rows())}

    @app.get('/v1/models')
    async def models() -> dict:
        return {'object': 'list', 'data': targets.cards()}

    @app.get('/v1/models/{model:path}')
    async def model_card(model: str) -> dict:
        card = next((c for c in targets.cards() if c['id'] == model), None)
        if card is None:
            raise Refused(404, f'model {model!r} is not served here; GET /v1/models lists the '
                          'served ones.', 'model_not_found', 'model')
        return card

    async def forward(request: Request, route: str) -> Response:
        raw = await _body(request, MAX_AUDIO if route == 'audio/transcriptions' else max_body)
        model, stream, body = _model_of(request, raw)
        request.state.model = model
        replicas, variant = targets.get(model)
        if not replicas:
            served = ', '.join(sorted({*targets.rows(), *targets.variants()})) or \
                'none yet (lazyllm deploy MODEL)'
            raise Refused(404, f'model {model!r} is not served here; served: {served}.',
                          'model_not_found', 'model')
        kind = replicas[0].type
        if kind and kind not in ROUTES[route]:
            answers = [r for r, kinds in ROUTES.items() if kind in kinds]
            raise Refused(400, f'{model!r} is {article(kind)} {kind} model: it answers '
                          f'{", ".join("/v1/" + r for r in answers) or "no OpenAI route"}, '
                          f'not /v1/{route}.', 'wrong_model_type', 'model')
        built = _as_variant(variant, route, body, stream) if variant is not None else None
        payload = _payloads(raw, body, variant, built)
        headers = {'content-type': request.headers.get('content-type', 'application/json')}
        if config['engine_api_key']:
            headers['authorization'] = f'Bearer {config["engine_api_key"]}'
        answer, failed = None, ''
        for row in (order := balancer.order(replicas)):
            url = row.url.rstrip('/') + '/' + route
            try:
                answer = await _unless_gone(request, engines.post(url, payload(row), headers,
                                                                  stream))
            except TimedOut:                   # it may be working on it: never sent twice
                raise Refused(504, f'the engine of {model!r} did not answer within '
                              f'{timeout:.0f}s.', 'engine_timeout') from None
            except Unreachable as e:           # no answer began: the next replica takes it
                balancer.eject(row)
                failed = f'{row.url} ({e})'
                continue
            if answer is None:      # the client left: nobody reads an answer (nginx's 499)
                return Response(status_code=499)
            if answer.status == 503 and row is not order[-1]:    # draining: the next one
                balancer.eject(row)
                if answer.stream is not None:
                    answer.stream.close()
                answer, failed = None, f'{row.url} (503, draining)'
                continue
            balancer.restore(row)
            break
        if answer is None:
            raise Refused(502, f'the engine of {model!r} at {failed} cannot be reached: it may '
                          'have stopped; `lazyllm ps` shows it.', 'engine_unreachable')
        if answer.stream is None:
            shaped = variant is not None and not variant.streams and answer.status == 200
            return Response(_shaped(variant, answer.body) if shaped else answer.body,
                            answer.status, media_type=answer.content_type)
        return StreamingResponse(relay(answer.stream), answer.status,
                                 media_type=answer.content_type,
                                 headers={'cache-control': 'no-cache'})

    def endpoint(route: str) -> Any:
        async def handle(request: Request) -> Response:
            return await forward(request, route)
        return handle

    for route in ROUTES:
        app.post(f'/v1/{route}', name=route)(endpoint(route))
    add_page(app)                     # the web chat page at GET /
    instrument(app, targets, keys)    # GET /metrics; measures every request (outermost)
    return app
