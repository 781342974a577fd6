"""The management API: the command line's deployment verbs over HTTP, through the same code.

    POST   /v1/deployments               lazyllm deploy MODEL --detach   (serve.deploy_detached)
    GET    /v1/deployments               lazyllm ps --all                (serve.deployments)
    GET    /v1/deployments/{name}        one row of that list
    DELETE /v1/deployments/{name}        lazyllm stop NAME               (serve.end_deployment)
    GET    /v1/deployments/{name}/logs   lazyllm logs NAME [-n N] [-f]   (serve.job_of)

Why the same functions rather than an HTTP-shaped copy of them: a deployment launched here is
one ``lazyllm ps`` lists and ``lazyllm stop`` ends, and the other way round, with the same
statuses, the same names by default and the same ways to fail. A launch is a detached
``lazyllm deploy`` process with its ``starting`` row written before the 202 goes out, so it
outlives the gateway, the list shows it from the first moment, and a deploy that fails says
why: its row turns ``failed`` and ``reason`` quotes its ``Error:`` line.

Everything is checked before anything runs, and every refusal is a 4xx in OpenAI's error
shape naming the field and the fix; what the registry or a scheduler refuses is a 503. The
blocking calls (the registry, a job's status, a stop that waits for the engine to end) run in
worker threads: the routes are plain ``def`` or hand them over, so the models' streams are
never held up. A followed log is read at most four times a second, and ends when its client
goes away or its deployment stops.

Who may call is ``_keys.management_refusal``: the admin keys when the gateway has some.
"""
from __future__ import annotations

import asyncio
import json
import os
import threading
from pathlib import Path
from typing import Any, AsyncIterator, Callable

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from ..errors import InputError, LazyLLMError
from ..launch import read_file, tail_file
from ._errors import Refused
from ._keys import ADMIN_KEYS_ENV, KEYS_ENV, management_refusal

__all__ = ['add_management', 'PREFIX']

PREFIX = '/v1/deployments'
FIELDS: dict[str, type] = {'model': str, 'name': str, 'engine': str, 'options': dict,
                           'launcher': str}
LIVE = ('running', 'starting')       # what `lazyllm stop` ends, and a new launch may not take
MAX_BODY = 64 << 10                  # a launch request is a few hundred bytes
MAX_TAIL = 10_000
DEFAULT_TAIL = 50                    # `lazyllm logs`' default
POLL = 0.25                          # a followed log: read at most 4 times a second...
CHECK_EVERY = 4                      # ...and whether it ended once a second
KEEPALIVE = 15.0                     # an idle follower gets an SSE comment this often


def _calling(fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    """``fn(...)`` with lazyllm's errors as refusals: bad input a 400, anything else the
    registry, a launcher or the file system refuse a 503 with their message."""
    try:
        return fn(*args, **kw)
    except InputError as e:
        raise Refused(400, str(e), 'invalid_request') from None
    except (LazyLLMError, OSError) as e:
        raise Refused(503, f'{e} (the deployment registry or its launcher refused; retry, or '
                      'see `lazyllm ps`).', 'management_unavailable') from None


# -- the rows -----------------------------------------------------------------------------------
def _rows() -> list:
    """Every registry row, its status checked now: what ``lazyllm ps --all`` prints."""
    from ..serve import deployments
    return _calling(deployments)


def _row(name: str) -> Any:
    from ..registry import check_name
    try:
        check_name(name)
    except InputError as e:
        raise Refused(400, str(e), 'invalid_name', 'name') from None
    rows = _rows()
    for rec in rows:
        if rec.name == name:
            return rec
    known = ', '.join(sorted(r.name for r in rows)) or 'none yet (POST /v1/deployments)'
    raise Refused(404, f'no deployment is named {name!r}; known: {known}.',
                  'deployment_not_found', 'name')


def view(rec: Any) -> dict:
    """A row as the API shows it (never its launch token); ``reason`` for a failed one."""
    return {'object': 'deployment', 'name': rec.name, 'model': rec.model,
            'engine': rec.engine or None, 'type': str(rec.type or '') or None,
            'status': rec.status, 'url': rec.url or None, 'pid': rec.pid,
            'job_id': rec.job_id or None, 'launcher': rec.launcher.partition(':')[0],
            'options': rec.options, 'created': int(rec.created),
            'reason': failure_reason(rec) if rec.status == 'failed' else None}


def _tail_text(path: str | os.PathLike, limit: int = 64 << 10) -> str:
    try:
        with open(path, 'rb') as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - limit))
            return f.read().decode('utf-8', 'replace')
    except OSError:
        return ''


def _deploy_error(text: str) -> str | None:
    """The last ``Error: …`` a deploy process printed, with the lines its message runs on."""
    at = text.rfind('\nError: ') + 1 or (0 if text.startswith('Error: ') else -1)
    if at < 0:
        return None
    return text[at + len('Error: '):].strip()[:2000] or None


def failure_reason(rec: Any) -> str | None:
    """Why a deployment failed: the last ``Error:`` of its deploy process (in the newest
    deploy log of the name written since the row was, or the row's own log before the engine
    launched), or else the engine's own reason in its log."""
    from ..serve import deploy_logs
    logs = [p for p, mtime in deploy_logs(rec.name)[:1] if mtime >= rec.created - 2]
    logs += [Path(rec.log_path)] if rec.log_path else []
    for path in dict.fromkeys(logs):
        reason = _deploy_error(_tail_text(path))
        if reason:
            return reason
    return _engine_reason(rec)


def _engine_reason(rec: Any) -> str | None:
    if not rec.log_path or not rec.engine or rec.engine == 'auto':
        return None
    from ..deploy import engines
    if rec.engine not in engines.names():
        return None
    return engines.get(rec.engine).failure_reason(_tail_text(rec.log_path)) or None


# -- POST: checking a launch request ----------------------------------------------------------
async def _json_body(request: Request) -> dict:
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            raise Refused(413, f'a launch request is at most {MAX_BODY >> 10} KiB.',
                          'request_too_large')
    try:
        body = json.loads(raw)
    except ValueError as e:
        raise Refused(400, f'the request body is not JSON ({e}): send a JSON object such as '
                      '{"model": "/models/SmolLM2-135M-Instruct", "name": "smol"}.',
                      'invalid_json') from None
    if not isinstance(body, dict):
        raise Refused(400, 'the request body must be a JSON object with "model".',
                      'invalid_request')
    return body


def _check_fields(body: dict) -> dict:
    """The body's fields: no unknown one, each of its type (null: not given)."""
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise Refused(400, f'unknown field(s) {", ".join(map(repr, unknown))}; a launch takes '
                      f'{", ".join(FIELDS)}.', 'unknown_field', unknown[0])
    given = {k: v for k, v in body.items() if v is not None}
    for key, value in given.items():
        if not isinstance(value, FIELDS[key]):
            kind = 'an object' if FIELDS[key] is dict else 'a string'
            raise Refused(400, f'"{key}" must be {kind}, got {json.dumps(value)[:80]}.',
                          'invalid_type', key)
    if 'model' not in given:
        raise Refused(400, 'the request names no "model": give a model folder, a catalog name '
                      '(`lazyllm models`) or a hub repo id.', 'missing_model', 'model')
    return given


def _check_model(model: str) -> None:
    """``model`` goes on the deploy command line as it is, so it is something and no flag;
    one given as a path (absolute, ``./``, ``../``, ``~``) must exist here, on the gateway's
    machine. A catalog name or repo id is resolved by the deploy process."""
    if not model.strip() or '\0' in model:
        raise Refused(400, '"model" is empty or holds a NUL character: give a model folder, '
                      'a catalog name or a hub repo id.', 'invalid_model', 'model')
    if model.startswith('-'):
        raise Refused(400, f'"model" starts with "-" ({model[:80]!r}): for a path that does, '
                      f'write ./{model[:80]}.', 'invalid_model', 'model')
    if model.startswith(('/', './', '../', '~')) and not Path(model).expanduser().exists():
        raise Refused(400, f'model path {model!r} does not exist on the gateway\'s machine: '
                      'give an existing model folder or GGUF file there, a name from '
                      '`lazyllm models`, or a hub repo id (org/name).', 'model_not_found',
                      'model')


def _check_name(name: str, given: bool) -> str:
    from ..registry import check_name
    fix = '' if given else ' (the default: the model folder\'s name); give a "name"'
    if name.startswith('-'):
        raise Refused(400, f'deployment name {name!r} starts with "-"{fix}: start it with a '
                      'letter or digit.', 'invalid_name', 'name')
    try:
        return check_name(name)
    except InputError as e:
        raise Refused(400, f'{e}{fix}', 'invalid_name', 'name') from None


def _check_engine(engine: str, options: dict) -> None:
    """``engine`` is auto or a registered one; ``options`` are that engine's (for auto,
    options no engine has are refused; the engine picked checks the rest)."""
    from ..deploy import engines
    names = engines.names()
    if engine != 'auto' and engine not in names:
        raise Refused(400, f'unknown engine {engine!r}; choose one of: auto, '
                      f'{", ".join(names)}.', 'unknown_engine', 'engine')
    if engine != 'auto':
        try:
            engines.get(engine).validate(options)
        except InputError as e:
            raise Refused(400, str(e), 'invalid_option', 'options') from None
        return
    known = {k for n in names for k in engines.get(n).options}
    unknown = sorted(set(options) - known)
    if unknown:
        raise Refused(400, f'no engine has option(s) {", ".join(unknown)}; name an "engine" '
                      f'to see its options, e.g. "engine": "transformers".', 'invalid_option',
                      'options')


def _check_launcher(launcher: str | None) -> None:
    from ..serve import LAUNCHERS
    if launcher is not None and launcher not in LAUNCHERS:
        raise Refused(400, f'unknown launcher {launcher!r}; choose one of: '
                      f'{", ".join(LAUNCHERS)} (default: the default_launcher setting).',
                      'unknown_launcher', 'launcher')


def launch_request(body: dict) -> dict:
    """The arguments of ``deploy_detached`` a launch body asks for, every field checked."""
    given = _check_fields(body)
    model = given['model']
    _check_model(model)
    from ..serve import default_name
    name = _check_name(given.get('name') or default_name(model), 'name' in given)
    options = given.get('options', {})
    engine = given.get('engine', 'auto')
    _check_engine(engine, options)
    _check_launcher(given.get('launcher'))
    return {'model': model, 'name': name, 'engine': engine, 'options': options,
            'launcher': given.get('launcher')}


# -- POST: launching ------------------------------------------------------------------------------
_launching = threading.Lock()   # a name checked free stays free until its row is written


def _child_env() -> dict:
    """This environment without the gateway's keys: the deploy process and its engine have
    no use for them."""
    return {k: v for k, v in os.environ.items() if k not in (KEYS_ENV, ADMIN_KEYS_ENV)}


def launch(ask: dict) -> dict:
    """Start ``lazyllm deploy`` for ``ask`` in the background (409 if its name is live); the
    ``starting`` row it wrote."""
    from ..registry import Registry
    from ..serve import deploy_detached
    name = ask['name']
    with _launching:
        live = [r for r in _rows() if r.name == name and r.status in LIVE]
        if live:
            raise Refused(409, f'a deployment named {name!r} is already {live[0].status} '
                          f'({live[0].model}): give another "name", or stop it first '
                          f'(DELETE /v1/deployments/{name}).', 'deployment_exists', 'name')
        done = _calling(deploy_detached, ask['model'], name, engine=ask['engine'],
                        options=ask['options'].items(), launcher=ask['launcher'],
                        env=_child_env())
    # reaped when it exits, or it would stay a zombie of this long-lived process
    threading.Thread(target=done.process.wait, name=f'reap-deploy-{name}', daemon=True).start()
    return view(_calling(Registry().get, name))


# -- logs -------------------------------------------------------------------------------------
class _FileLog:
    """The log of a deploy process whose row names no job yet, read as a job's output is
    (the same readers as ``Job.read_output`` / ``tail_output``)."""

    def __init__(self, path: str):
        self.path = path

    def read_output(self, offset: int = 0) -> bytes:
        return read_file(self.path, offset)

    def tail_output(self, lines: int) -> tuple[bytes, int]:
        return tail_file(self.path, lines)


def _log_of(rec: Any) -> Any:
    """What to read ``rec``'s log from: its job (as ``lazyllm logs`` does), else the log of
    the deploy process launching it; 404 when there is neither."""
    from ..serve import job_of
    job = _calling(job_of, rec)
    if job is not None:
        return job
    if rec.log_path:
        return _FileLog(rec.log_path)
    raise Refused(404, f'{rec.name} has no log yet: it was registered without a job or a '
                  'deploy process to read from.', 'log_not_found', 'name')


def _log_query(request: Request) -> tuple[int, bool]:
    """``tail`` (0…MAX_TAIL, default 50) and ``follow`` (true/false) of the query."""
    query = request.query_params
    unknown = sorted(set(query) - {'tail', 'follow'})
    if unknown:
        raise Refused(400, f'unknown query parameter(s) {", ".join(unknown)}; logs take tail=N '
                      'and follow=true.', 'unknown_parameter', unknown[0])
    tail = query.get('tail', str(DEFAULT_TAIL))
    if not tail.isdigit() or int(tail) > MAX_TAIL:
        raise Refused(400, f'tail must be a whole number of lines from 0 to {MAX_TAIL}, got '
                      f'{tail[:20]!r}.', 'invalid_tail', 'tail')
    follow = query.get('follow', 'false').lower()
    if follow not in ('true', 'false', '1', '0'):
        raise Refused(400, f'follow must be true or false, got {follow[:20]!r}.',
                      'invalid_follow', 'follow')
    return int(tail), follow in ('true', '1')


def _event(line: bytes) -> str:
    """One log line as an SSE event; of a line rewritten with carriage returns (a progress
    bar), what a terminal would show last."""
    parts = [p for p in line.rstrip(b'\r').split(b'\r') if p]
    return 'data: ' + (parts[-1] if parts else b'').decode('utf-8', 'replace') + '\n\n'


def _next_source(name: str, source: Any) -> tuple[Any, str | None]:
    """Once a second: (what to read now, the final status when the log has ended). A job
    ends with itself; a deploy log when its row names a job (then that job's log is read
    from its start) or is no longer starting."""
    from ..serve import job_of
    try:
        if not isinstance(source, _FileLog):
            return source, (_row(name).status if source.ended else None)
        rec = _row(name)
    except Refused:                   # the row was removed meanwhile
        return source, 'removed'
    job = job_of(rec) if rec.job_id or rec.pid else None
    if job is not None:
        return job, None
    return source, (None if rec.status == 'starting' else rec.status)


async def follow(request: Request, name: str, source: Any, pos: int,
                 pending: bytes = b'') -> AsyncIterator[str]:
    """The log from byte ``pos`` on (``pending``: the start of a line before it), one SSE
    event per line, until the client disconnects or the deployment stops (then an ``end``
    event with its status)."""
    polls, idle = 0, 0.0
    while not await request.is_disconnected():
        chunk = await run_in_threadpool(source.read_output, pos)
        pos += len(chunk)
        *lines, pending = (pending + chunk).split(b'\n')
        for line in lines:
            yield _event(line)
        idle = 0.0 if chunk else idle + POLL
        if idle >= KEEPALIVE:
            idle = 0.0
            yield ': keepalive\n\n'
        polls += 1
        if not chunk and polls % CHECK_EVERY == 0:
            now, ended = await run_in_threadpool(_next_source, name, source)
            if ended is not None:
                yield (_event(pending) if pending else '') + f'event: end\ndata: {ended}\n\n'
                return
            if now is not source:
                source, pos, pending = now, 0, b''
        await asyncio.sleep(POLL)


def _streamed(request: Request, name: str, source: Any, tail: bytes,
              pos: int) -> StreamingResponse:
    """The tail's lines as SSE events, then the log as it grows (``follow``)."""
    *lines, pending = tail.split(b'\n')

    async def events() -> AsyncIterator[str]:
        for line in lines:
            yield _event(line)
        async for event in follow(request, name, source, pos, pending):
            yield event
    return StreamingResponse(events(), media_type='text/event-stream',
                             headers={'cache-control': 'no-cache', 'x-accel-buffering': 'no'})


# -- the routes ---------------------------------------------------------------------------------
def _router(keys: tuple[str, ...], admin_keys: tuple[str, ...]) -> APIRouter:
    async def guard(request: Request) -> None:
        refusal = management_refusal(request.headers.get('authorization'), keys, admin_keys)
        if refusal is not None:
            raise Refused(*refusal)

    router = APIRouter(prefix=PREFIX, dependencies=[Depends(guard)])

    @router.post('')
    async def create(request: Request) -> JSONResponse:
        ask = await run_in_threadpool(launch_request, await _json_body(request))
        row = await run_in_threadpool(launch, ask)
        return JSONResponse(row, status_code=202,
                            headers={'location': f'{PREFIX}/{row["name"]}'})

    @router.get('')
    def listing() -> dict:
        return {'object': 'list', 'data': [view(r) for r in _rows()]}

    @router.get('/{name}')
    def one(name: str) -> dict:
        return view(_row(name))

    @router.delete('/{name}')
    def stop(name: str) -> dict:
        from ..registry import Registry
        from ..serve import end_deployment
        rec = _row(name)
        stopped = rec.status in LIVE
        if stopped:                       # what `lazyllm stop NAME` does
            _calling(end_deployment, name)
            rec = _calling(Registry().get, name) or rec
        return {**view(rec), 'stopped': stopped}

    @router.get('/{name}/logs')
    async def logs(request: Request, name: str) -> Response:
        lines, following = _log_query(request)
        rec = await run_in_threadpool(_row, name)
        source = await run_in_threadpool(_log_of, rec)
        text, pos = await run_in_threadpool(source.tail_output, lines)
        if following:
            return _streamed(request, name, source, text, pos)
        return Response(text.decode('utf-8', 'replace'), media_type='text/plain')

    return router


def add_management(app: FastAPI, *, keys: tuple[str, ...] = (),
                   admin_keys: tuple[str, ...] = ()) -> None:
    """Mount the management API on the gateway ``app``; ``keys``: the keys that may call
    the gateway, ``admin_keys``: those that may manage (none: ``keys`` may)."""
    app.include_router(_router(keys, admin_keys))
