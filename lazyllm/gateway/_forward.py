"""The model routes (``POST /v1/chat/completions`` and the others of ``ROUTES``): each call
routed by its ``model`` to an engine and the answer passed back, as plain ASGI.

A call's body is read once (under a size limit), its ``model`` looked up among the running
deployments (``_targets``), checked to answer the route (a chat to an embedding model is a
400 saying which route it answers), and sent to one of its replicas (``_balance``) as it
came. A stream is passed through chunk by chunk as the engine sends it, never buffered; an
answer that is not a stream comes back with the engine's status and body. A client that
leaves cancels its engine call: the closed connection tells the engine to stop generating.

Plain ASGI rather than FastAPI routes because this is the path every call takes, and what
the gateway adds to a call is all it costs: leaving FastAPI's layers (routing, its exception
and body-limit middleware, a task group per streamed response) took the gateway's CPU per
call from 2.0 to 1.7 ms (``bench/bench_gateway.py``, 2-core machine). Every other path goes
on to ``app``, the FastAPI app of the models list, the management API, ``/metrics`` and the
page.
"""
from __future__ import annotations

import asyncio
import json
import logging
from email.message import Message
from typing import Any, Awaitable

from starlette.responses import Response

from .._names import article
from ..errors import LazyLLMError
from ._balance import Balancer
from ._errors import Refused, error_response
from ._targets import MODEL_PATHS, ROUTES, Targets
from ._upstream import TimedOut, Unreachable, Upstream, relay

__all__ = ['Forward', 'MAX_BODY', 'MAX_AUDIO']

MAX_BODY = 4 << 20          # a JSON request, as the engines take it
MAX_AUDIO = 25 << 20        # an audio upload (OpenAI's own limit)
_GONE = object()            # what ``_unless_gone`` gives when the client left first

log = logging.getLogger('lazyllm.gateway')


class Forward:
    """ASGI app: the model routes, relayed to the engines of ``targets``; any other request
    goes on to ``app``. ``engine_key``: the key the engines ask for (lazyllm's
    ``engine_api_key``), sent on every engine call."""

    def __init__(self, app: Any, targets: Targets, *, max_body: int, timeout: float,
                 engine_key: str = ''):
        self.app, self.targets, self.max_body, self.timeout = app, targets, max_body, timeout
        self.engines = Upstream(timeout)
        self.balancer = Balancer()
        self.engine_auth = f'Bearer {engine_key}' if engine_key else None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        route = MODEL_PATHS.get(scope['path']) if scope['type'] == 'http' else None
        if route is None:
            await self.app(scope, receive, send)
            return
        try:
            if scope['method'] != 'POST':
                raise Refused(405, f'{scope["path"]} takes POST, not {scope["method"]}.',
                              'method_not_allowed')
            response = await self.forward(scope, receive, route)
        except Refused as e:
            response = error_response(e.status, str(e), e.code, e.param)
            if e.status == 405:
                response.headers['allow'] = 'POST'
        except Exception:            # a bug: its traceback is logged, the client told so
            log.exception('the gateway failed on a call to %s', scope['path'])
            response = error_response(500, 'the gateway failed on this call (a bug in '
                                      'lazyllm: its log has the traceback).', 'internal_error')
        if response is not None:
            await response(scope, receive, send)

    async def forward(self, scope: dict, receive: Any, route: str) -> Any:
        """The ASGI response to one call (None: the client left while it was read)."""
        headers = dict(scope['headers'])
        kind = headers.get(b'content-type', b'application/json').decode('latin-1')
        raw = await _body(receive, headers,
                          MAX_AUDIO if route == 'audio/transcriptions' else self.max_body)
        if raw is None:
            return None
        model, stream, body = _model_of(kind, raw)
        replicas, variant = self.targets.get(model)
        if not replicas:
            served = ', '.join(sorted({*self.targets.rows(), *self.targets.variants()})) or \
                'none yet (lazyllm deploy MODEL)'
            raise Refused(404, f'model {model!r} is not served here; served: {served}.',
                          'model_not_found', 'model')
        scope.setdefault('state', {})['model'] = model      # the metrics' label
        served_kind = replicas[0].type
        if served_kind and served_kind not in ROUTES[route]:
            answers = [r for r, kinds in ROUTES.items() if served_kind in kinds]
            raise Refused(400, f'{model!r} is {article(served_kind)} {served_kind} model: it '
                          f'answers {", ".join("/v1/" + r for r in answers) or "no OpenAI route"}'
                          f', not /v1/{route}.', 'wrong_model_type', 'model')
        built = _as_variant(variant, route, body, stream) if variant is not None else None
        payload = _payloads(raw, body, variant, built)
        sent = {'content-type': kind}
        if self.engine_auth:
            sent['authorization'] = self.engine_auth
        answer = await self._call(replicas, route, model, payload, sent, stream, receive)
        if answer is None:          # the client left: nobody reads an answer (nginx's 499)
            return Response(status_code=499)
        if answer.stream is not None:
            return _Relay(answer)
        shaped = variant is not None and not variant.streams and answer.status == 200
        return Response(_shaped(variant, answer.body) if shaped else answer.body,
                        answer.status, media_type=answer.content_type)

    async def _call(self, replicas: list, route: str, model: str, payload: Any,
                    headers: dict, stream: bool, receive: Any) -> Any:
        """The first answer of ``replicas`` in the balancer's order: one that cannot be
        reached, or answers 503 (draining), is taken out and the next one asked; one that
        times out is not (it may be working on the call: never sent twice). None: the
        client left."""
        failed = ''
        for row in (order := self.balancer.order(replicas)):
            url = row.url.rstrip('/') + '/' + route
            try:
                answer = await _unless_gone(receive, self.engines.post(
                    url, payload(row), headers, stream))
            except TimedOut:
                raise Refused(504, f'the engine of {model!r} did not answer within '
                              f'{self.timeout:.0f}s.', 'engine_timeout') from None
            except Unreachable as e:           # no answer began: the next replica takes it
                self.balancer.eject(row)
                failed = f'{row.url} ({e})'
                continue
            if answer is _GONE:
                return None
            if answer.status == 503 and row is not order[-1]:
                self.balancer.eject(row)
                if answer.stream is not None:
                    answer.stream.close()
                failed = f'{row.url} (503, draining)'
                continue
            self.balancer.restore(row)
            return answer
        raise Refused(502, f'the engine of {model!r} at {failed} cannot be reached: it may '
                      'have stopped; `lazyllm ps` shows it.', 'engine_unreachable')


class _Relay:
    """The ASGI response of a streamed answer: the engine's chunks sent on as they come.
    A client that leaves stops the relay, which closes the engine's connection; so does a
    relay that never began."""

    def __init__(self, answer: Any):
        self.answer = answer

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        async def pump() -> None:
            async for chunk in relay(self.answer.stream):
                await send({'type': 'http.response.body', 'body': chunk, 'more_body': True})
            await send({'type': 'http.response.body', 'body': b''})
        try:
            await send({'type': 'http.response.start', 'status': self.answer.status,
                        'headers': [(b'content-type',
                                     self.answer.content_type.encode('latin-1')),
                                    (b'cache-control', b'no-cache')]})
            await _unless_gone(receive, pump())
        finally:
            self.answer.stream.done()       # a no-op once the relay gave it back


async def _unless_gone(receive: Any, work: Awaitable) -> Any:
    """``work`` awaited, or cancelled when the client goes away first (``_GONE`` then):
    cancelling closes the connection to the engine, which stops generating for nobody.
    The body is read already, so the next ASGI message can only be the disconnect. ``work``
    runs in the caller's task, and one task waits for the disconnect: every task costs the
    hot path, and asyncio.wait would make two."""
    loop = asyncio.get_running_loop()
    me, left, over = asyncio.current_task(loop), False, False
    assert me is not None

    def on_gone(waiting: asyncio.Future) -> None:
        nonlocal left
        if not over and not waiting.cancelled() and waiting.exception() is None:
            left = True
            me.cancel()
    gone = loop.create_task(receive())
    gone.add_done_callback(on_gone)
    try:
        return await work
    except asyncio.CancelledError:
        if not left:
            raise
        if hasattr(me, 'uncancel'):     # Python 3.11+: this cancel is handled here
            me.uncancel()
        return _GONE
    finally:
        over = True             # a disconnect seen from now on is not this call's to handle
        gone.cancel()


def _size(n: int) -> str:
    return f'{n / 2**20:.3g} MiB' if n >= 2**20 else f'{n:,} bytes'


async def _body(receive: Any, headers: dict, limit: int) -> bytes | None:
    """The request's body, at most ``limit`` bytes (None: the client left first)."""
    declared = headers.get(b'content-length', b'')
    if declared.isdigit() and int(declared) > limit:
        raise Refused(413, f'the request body is {_size(int(declared))}; the gateway takes at '
                      f'most {_size(limit)} (lazyllm serve --max-body-mb).', 'request_too_large')
    parts, size = [], 0
    while True:
        message = await receive()
        if message['type'] == 'http.disconnect':
            return None
        parts.append(message.get('body', b''))
        size += len(parts[-1])
        if size > limit:
            raise Refused(413, f'the request body is over {_size(limit)}, the most the gateway '
                          'takes (lazyllm serve --max-body-mb).', 'request_too_large')
        if not message.get('more_body'):
            return parts[0] if len(parts) == 1 else b''.join(parts)


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


def _model_of(content_type: str, raw: bytes) -> tuple[str, bool, dict | None]:
    """(the request's ``model``, whether it asks for a stream, the JSON body: None for an
    upload)."""
    body = None
    if content_type.startswith('multipart/form-data'):
        form = _form_fields(raw, content_type)
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
