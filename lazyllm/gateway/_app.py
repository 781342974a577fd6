"""The gateway's HTTP app: OpenAI's API for every running deployment, routed by ``model``.

An ASGI stack, outermost first: ``_metrics`` measures every request; ``_RequireKey`` asks
for an API key on ``/v1/``; ``_forward`` answers the model routes (chat, completions,
embeddings, rerank, audio transcriptions, classify) as plain ASGI, the hot path; the rest is
a FastAPI app: ``/v1/models``, the management API (``_manage``), ``/metrics``, ``/health``
and the chat page (``_page``). Every error the gateway itself makes has OpenAI's shape
``{"error": {"message", "type", "param", "code"}}`` (``_errors``), so the official SDKs raise
their usual exceptions.

The gateway holds no model and runs no engine: it imports FastAPI and httptools, not torch.
"""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from .._config import config
from ._errors import Refused, error_response, unauthorized
from ._forward import MAX_AUDIO, MAX_BODY, Forward
from ._keys import authorized
from ._manage import add_management
from ._metrics import instrument
from ._page import add_page
from ._targets import Targets

__all__ = ['create_app', 'MAX_BODY', 'MAX_AUDIO']


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


def create_app(targets: Targets, *, keys: tuple[str, ...] = (), max_body: int = MAX_BODY,
               timeout: float = 600.0, admin_keys: tuple[str, ...] = ()) -> Any:
    """The gateway's ASGI app over ``targets``; ``keys``: the API keys a caller must show
    (none: open, for a gateway on the loopback interface only); ``admin_keys``: those the
    management API (``/v1/deployments``, ``_manage``) asks for (none: ``keys`` do)."""
    app = FastAPI(title='lazyllm gateway', docs_url=None, redoc_url=None, openapi_url=None)
    keys = keys + admin_keys if keys else ()   # an admin key may call the models too
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

    add_page(app)                     # the web chat page at GET /
    forward = Forward(app, targets, max_body=max_body, timeout=timeout,
                      engine_key=config['engine_api_key'])
    app.router.on_shutdown.append(forward.engines.close)
    guarded = _RequireKey(forward, keys) if keys else forward
    return instrument(guarded, app, targets, keys)    # GET /metrics; measures every request
