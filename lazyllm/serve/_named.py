"""Named deployments: engines that other processes find by name, through the registry.

    m = lazyllm.TrainableModule('/models/SmolLM2-135M-Instruct').start(name='smol')
    # another process, later: attaches, no second engine
    m = lazyllm.TrainableModule('/models/SmolLM2-135M-Instruct').start(name='smol')
    m = lazyllm.connect('smol')                          # by name only
    lazyllm.deployments()                                # every row, status refreshed

``start(name=…)`` holds the name's cross-process lock, then attaches when the registry has a
live deployment of that name with the same configuration (its hash: model folder, engine,
options, type), answering ``/health`` and a one-token request; otherwise it cleans a stale
row (process gone or URL dead), launches, and registers the new engine. A deployment started
with ``detach=True`` keeps running after its starter exits. ``stop()`` ends the engine this
process launched (a detached one is left running), detaches an attached module, and
``stop(force=True)`` ends the engine either way.

The registry tells the truth about each row when it is read (``deployments()``): the status
comes from the job's liveness (a process group, a Slurm or Ray job), never from a single
probe, so a busy engine whose ``/health`` is slow is still running, and ``failed`` is checked
again at every read. ``end_deployment(name)`` stops a row's engine through its job (a local
one by process group: no HTTP, no API key), and first the ``lazyllm deploy --detach`` process
still launching it, if any.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import signal
import time
from dataclasses import dataclass
from typing import Any

from .._config import config
from .._log import get_logger
from ..errors import DeployError, EndpointError, InputError, LazyLLMError
from ._readiness import PROBE_TIMEOUT, engine_root

__all__ = ['Named', 'start_named', 'stop_named', 'find_deployment', 'deployments', 'config_hash',
           'observe', 'end_deployment', 'job_of', 'move_named', 'follow']

_ANSWER_TIMEOUT = 10.0   # a one-token request may wait behind a busy engine's batch
_HEALTH_TRIES = (0.5, 1.0, 2.0)   # per-try timeouts of the health probe (backoff between)
_STARTER_GRACE = 30.0             # seconds a deploy process gets to stop what it launched


@dataclass
class Named:
    """The registry row a Deployment stands for, and whether this process launched it."""
    name: str
    owner: bool
    detached: bool
    pid: int | None = None
    log_path: str = ''
    launcher: str = 'local'       # the launcher's ref, to reach the job from any process
    job_id: str = ''

    @classmethod
    def of(cls, rec: Any, *, owner: bool = False) -> 'Named':
        return cls(rec.name, owner, rec.detached, rec.pid, rec.log_path, rec.launcher,
                   rec.job_id)


def _registry() -> Any:
    from ..registry import Registry
    return Registry()


def config_hash(folder: Any, engine: Any, options: dict, type: Any,
                trust_remote_code: bool) -> str:
    """What tells two configurations apart: same hash, same engine serving the same thing."""
    data = {'path': str(folder), 'engine': engine.name, 'type': str(type),
            'options': options, 'trust_remote_code': trust_remote_code}
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def job_of(rec: Any) -> Any:
    """A handle on the job of a registry row (or Named), through the launcher that started
    it; None when the row has no job."""
    from ..launch import launcher_from_ref
    job_id = rec.job_id or (str(rec.pid) if rec.pid else '')
    if not job_id:
        return None
    return launcher_from_ref(rec.launcher).attach(job_id, log_path=rec.log_path, name=rec.name)


def alive(rec: Any, *, deep: bool = True) -> bool:
    """The row's job runs and its URL answers (``deep``: also a one-token request)."""
    job = job_of(rec)
    if job is not None and job.status != 'running':
        return False
    if not rec.url:
        return False
    from ..client import Client
    try:
        with Client(rec.url, config['engine_api_key'], timeout=_ANSWER_TIMEOUT,
                    max_retries=0, connect_timeout=PROBE_TIMEOUT) as c:
            c.request('GET', '/health')
            if deep:
                if rec.type == 'embed':
                    c.embed('ping')
                elif rec.type == 'rerank':
                    c.rerank('ping', ['ping'])
                elif rec.type in ('llm', 'vlm'):
                    c.chat('ping', max_tokens=1)
    except EndpointError:
        return False
    return True


def _free_name(reg: Any, folder: Any, digest: str) -> str:
    """A name for an unnamed ``reuse=True`` start: the model folder's name, or the first
    ``<name>-N`` not taken by a live deployment of another configuration."""
    from .._names import safe_name
    base = safe_name(folder.name, 60, 'model')
    for n in range(1, 100):
        name = base if n == 1 else f'{base}-{n}'
        rec = reg.get(name)
        if rec is None or rec.config_hash == digest or rec.status not in ('running',
                                                                          'starting'):
            return name
    raise DeployError(f'too many deployments named {base}-N: stop some (lazyllm ps).')


def start_named(dep: Any, name: str | None, *, detach: bool,
                replica_of: str | None = None) -> None:
    """Attach ``dep`` to the live deployment called ``name``, or launch and register it.
    ``name=None`` (``start(reuse=True)``): attach to any live deployment of the same
    configuration, else launch one registered under the model folder's name. A live
    deployment of that name with another configuration is replaced blue-green (see
    ``_swap``): the new engine is launched, the row moves to it once it is ready, and the
    old engine is ended then; a ``dep`` that already stood for ``name`` (restarting after
    its engine was replaced) follows the row instead. ``replica_of``: the deployment whose
    name this one also serves at the gateway."""
    from ..registry import check_name
    if name is not None:
        check_name(name)
    if replica_of is not None and (check_name(replica_of) == name):
        raise InputError(f'{name!r} cannot be a replica of itself: give the replica a name of '
                         f'its own, e.g. {name + "-2"!r}.')
    if dep.given_url:
        raise InputError(f'this module is attached to {dep.given_url}: it has no engine to '
                         f'register; use lazyllm.connect(name) to reach a named deployment.')
    reg = _registry()
    folder, engine, options = dep.target()
    digest = config_hash(folder, engine, options, dep.type, dep.trust_remote_code)
    if name is None:
        same = [r for r in reg.all() if r.config_hash == digest
                and r.status in ('running', 'starting')]
        name = next((r.name for r in same if alive(r)), None) or _free_name(reg, folder, digest)
    following = dep.named is not None and dep.named.name == name
    with reg.lock(name):
        rec = reg.get(name)
        mine = rec is not None and rec.owner_pid == os.getpid() and job_of(rec) is None
        status = observe(rec) if rec is not None and not mine else None
        replacing = None
        if status in ('running', 'starting'):
            if alive(rec):
                if rec.config_hash == digest or following:
                    dep.attach_url(rec.url, rec.token)
                    dep.named = Named.of(rec)
                    reg.update(name, last_seen=time.time())
                    get_logger().info('attached to the deployment %r at %s', name, rec.url)
                    return
                replacing = rec
                get_logger().warning('%r runs %s (%s) with another configuration: launching '
                                     'the new one beside it, then ending it', name, rec.model,
                                     rec.engine)
            elif _job_runs(rec):     # busy or still loading: never end a live engine here
                raise DeployError(f'the deployment {name!r} runs ({job_label(rec)}) but did not '
                                  f'answer in time: it may be busy or still loading. Retry '
                                  f'later, or end it with `lazyllm stop {name}`.')
        if rec is not None and not mine and replacing is None:
            if rec.status in ('running', 'starting'):
                get_logger().warning('the deployment %r is gone (%s): launching it again',
                                     name, rec.url or 'no URL')
        dep.deploy_name = name
        row = dataclasses.replace(_row(dep, name, folder, engine, options, digest, detach),
                                  replica_of=replica_of or '')

        def launched(new: Any) -> None:   # the job is known before it is ready: stoppable
            reg.put(_at(row, new.job, new.launcher, new.token, '', status='starting'))
        # a row being replaced keeps naming the old engine until the new one is ready
        dep.on_launch = launched if replacing is None else None
        try:
            dep.start(detach=detach)
        except BaseException:
            if replacing is None:
                reg.update(name, status='failed')
            raise
        finally:
            dep.on_launch = None
        rec = reg.put(_at(row, dep.job, dep.launched_by, dep.token, dep.url,
                          type=str(dep.type), status='running'))
        dep.named = Named.of(rec, owner=True)
    if replacing is not None:
        old = job_of(replacing)
        if old is not None:
            old.stop(timeout=config['drain_timeout'])   # SIGTERM: it finishes its calls


def _row(dep: Any, name: str, folder: Any, engine: Any, options: dict, digest: str,
         detach: bool) -> Any:
    """The registry row of ``dep``'s configuration, without its engine (see ``_at``)."""
    from ..registry import Record
    return Record(name=name, model=dep.model, path=str(folder), type=str(dep.type or ''),
                  engine=engine.name, options=json.loads(json.dumps(options, default=str)),
                  config_hash=digest, owner_pid=os.getpid(), detached=detach,
                  status='starting', created=time.time())


def _at(row: Any, job: Any, launcher: Any, token: str | None, url: str | None,
        **changes: Any) -> Any:
    """``row`` naming an engine: its job, launcher, log, token and URL."""
    import dataclasses
    return dataclasses.replace(row, url=url or '', pid=job.pid, job_id=job.job_id,
                               launcher=launcher.ref, log_path=str(job.log_path),
                               token=token or '', **changes)


def move_named(dep: Any) -> Any:
    """Point the row of ``dep``'s name at the engine ``dep`` serves now, with its
    configuration now, in one write (after a swap or a runtime adapter change; see
    ``_swap``). Returns the row as it was."""
    named = dep.named
    folder, engine, options = dep.target()
    digest = config_hash(folder, engine, options, dep.type, dep.trust_remote_code)
    reg = _registry()
    with reg.lock(named.name):
        old = reg.get(named.name)
        row = _row(dep, named.name, folder, engine, options, digest, named.detached)
        rec = reg.put(_at(row, dep.job, dep.launched_by, dep.token, dep.url, status='running'))
    dep.named = Named.of(rec, owner=True)
    return old


def follow(dep: Any) -> bool:
    """Attach ``dep`` (attached to a named deployment whose engine stopped answering) to the
    engine its row names now, when a swap has moved it; False when the row names the same
    engine, or none that answers."""
    rec = _registry().get(dep.named.name)
    if rec is None or rec.status != 'running' or not rec.url or \
            (rec.url, rec.token or None) == (dep.url, dep.token):
        return False
    try:
        dep.attach_url(rec.url, rec.token)
    except EndpointError:
        return False
    dep.named = Named.of(rec)
    get_logger().info('the deployment %r moved to %s: following it', rec.name, rec.url)
    return True


def stop_named(named: Named, *, ended: bool) -> None:
    """Record in the registry that the engine of ``named`` ended (``ended``) or not. A row
    that names another engine by now (a swap moved it) is left as it is."""
    if not ended:
        return
    reg = _registry()    # (not under the name's lock: a start holding it may stop first)
    rec = reg.get(named.name)
    if rec is not None and (rec.pid, rec.job_id) == (named.pid, named.job_id):
        reg.update(named.name, status='stopped', last_seen=time.time())


def end_engine(named: Named) -> None:
    """End the engine of a named deployment this process did not launch."""
    job = job_of(named)
    if job is not None:
        job.stop()


def find_deployment(name: str) -> Any:
    """The registry row named ``name``; else an InputError naming the known ones."""
    rec = _registry().get(name)
    if rec is None:
        known = ', '.join(r.name for r in _registry().all()) or 'none yet'
        raise InputError(f'no deployment is named {name!r} (known: {known}): start one with '
                         f"TrainableModule(model).start(name={name!r}) or `lazyllm deploy "
                         f"MODEL --name {name}`.")
    return rec


def deployments() -> list:
    """Every registered deployment, with its status checked now (see ``observe``)."""
    reg, out = _registry(), []
    for rec in reg.all():
        status = observe(rec)
        if status != rec.status or status == 'running':
            rec = reg.update(rec.name, status=status, **({} if status == 'running' else
                                                        {'last_seen': rec.last_seen})) or rec
        out.append(rec)
    return out


def observe(rec: Any) -> str:
    """The status of a registry row now. A row with a job: 'failed' once the job has ended
    (unless it was stopped), 'starting' while it is queued, and while it runs 'running' when
    it was running (a busy engine is slow to answer, not failed) or when its URL answers a
    health probe with backoff, else 'starting'. A row without a job yet (``lazyllm deploy
    --detach`` wrote it before launching): 'starting' while its deploy process runs."""
    try:
        job = job_of(rec)
        state = job.status if job is not None else None
    except LazyLLMError:                        # the scheduler cannot be asked: probe only
        return 'running' if rec.url and _answers(rec.url) else 'failed'
    if state is None:
        if rec.status != 'starting':
            return rec.status if rec.status in ('stopped', 'failed') else 'failed'
        return 'starting' if _starter(rec) else 'failed'
    if state in ('exited', 'failed', 'stopped'):
        return 'stopped' if rec.status == 'stopped' else 'failed'
    if state == 'pending':
        return 'starting'
    if rec.status != 'starting' and rec.url:    # its process lives: running, however busy
        return 'running'
    return 'running' if rec.url and _answers(rec.url) else 'starting'


def end_deployment(name: str) -> bool:
    """Stop the engine of the row ``name`` through its job (a local one by process group: no
    HTTP, no API key) and mark the row stopped. A ``lazyllm deploy`` process still launching
    it is ended first (it stops what it launched). False when nothing was running."""
    reg = _registry()
    rec = reg.get(name)
    if rec is None:
        raise InputError(f'no deployment is named {name!r}: see `lazyllm ps --all`.')
    ended = False
    starter = _starter(rec) if rec.status == 'starting' else None
    if starter is not None:
        _terminate(starter)
        ended = True
        rec = reg.get(name) or rec               # it may have registered its job meanwhile
    job = job_of(rec)
    if job is not None and not job.ended:
        job.stop()
        ended = True
    reg.update(name, status='stopped')
    return ended


def job_label(rec: Any) -> str:
    job = rec.job_id or rec.pid
    return f'{rec.launcher.partition(":")[0]} job {job}' if job else 'no job'


def _job_runs(rec: Any) -> bool:
    try:
        job = job_of(rec)
        return job is not None and not job.ended
    except LazyLLMError:
        return False


def _answers(url: str) -> bool:
    """Whether the engine at ``url`` (…/v1/) answers ``/health`` at all (any HTTP status:
    a 401 answers too), tried with growing timeouts and a pause between tries."""
    import httpx
    root = engine_root(url)
    for i, timeout in enumerate(_HEALTH_TRIES):
        try:
            httpx.get(root + '/health', timeout=timeout)
            return True
        except httpx.HTTPError:
            if i + 1 < len(_HEALTH_TRIES):
                time.sleep(0.1 * 2 ** i)
    return False


def _starter(rec: Any) -> int | None:
    """The pid of the ``lazyllm deploy`` process that is launching ``rec`` (its owner, while
    it runs and its command line is a deploy of this name), else None. Never a user's own
    interpreter: only a deploy command is ever signalled."""
    pid = rec.owner_pid
    if not pid or pid == os.getpid():
        return None
    try:
        with open(f'/proc/{pid}/cmdline', 'rb') as f:
            argv = f.read().split(b'\0')
        with open(f'/proc/{pid}/stat', 'rb') as f:
            if f.read().rsplit(b')', 1)[-1].split()[0] == b'Z':
                return None
    except (OSError, IndexError):
        return None
    want = (b'lazyllm', b'deploy', rec.name.encode())
    return pid if all(w in argv for w in want) else None


def _terminate(pid: int) -> None:
    """SIGTERM a deploy process (it stops the engine it launched and exits), SIGKILL after
    ``_STARTER_GRACE`` seconds."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + _STARTER_GRACE
    while time.monotonic() < deadline:
        if not _runs(pid):
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _runs(pid: int) -> bool:
    try:
        with open(f'/proc/{pid}/stat', 'rb') as f:
            return f.read().rsplit(b')', 1)[-1].split()[0] != b'Z'
    except (OSError, IndexError):
        return False
