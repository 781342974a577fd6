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
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from typing import Any

from .._config import config
from .._log import get_logger
from ..errors import DeployError, EndpointError, InputError
from . import _deployment  # noqa: F401 - registers engine_api_key, read by alive()

__all__ = ['Named', 'start_named', 'stop_named', 'connect', 'deployments', 'config_hash']

_PROBE_TIMEOUT = 2.0


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
        with Client(rec.url, config['engine_api_key'], timeout=_PROBE_TIMEOUT * 5,
                    max_retries=0, connect_timeout=_PROBE_TIMEOUT) as c:
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


def start_named(dep: Any, name: str | None, *, detach: bool) -> None:
    """Attach ``dep`` to the live deployment called ``name``, or launch and register it.
    ``name=None`` (``start(reuse=True)``): attach to any live deployment of the same
    configuration, else launch one registered under the model folder's name."""
    from ..registry import Record, check_name
    if name is not None:
        check_name(name)
    if dep.given_url:
        raise InputError(f'this module is attached to {dep.given_url}: it has no engine to '
                         f'register; use lazyllm.connect(name) to reach a named deployment.')
    reg = _registry()
    folder, engine, options = dep.plan()
    digest = config_hash(folder, engine, options, dep.type, dep.trust_remote_code)
    if name is None:
        same = [r for r in reg.all() if r.config_hash == digest
                and r.status in ('running', 'starting')]
        name = next((r.name for r in same if alive(r)), None) or _free_name(reg, folder, digest)
    with reg.lock(name):
        rec = reg.get(name)
        if rec is not None and rec.status in ('running', 'starting') and alive(rec):
            if rec.config_hash != digest:
                raise DeployError(f'{name!r} already runs {rec.model} ({rec.engine}) with '
                                  f'another configuration: stop it first (`lazyllm stop '
                                  f'{name}`) or pick another name.')
            dep.attach_url(rec.url)
            dep.named = Named.of(rec)
            reg.update(name, last_seen=time.time())
            get_logger().info('attached to the deployment %r at %s', name, rec.url)
            return
        if rec is not None:
            if rec.status in ('running', 'starting'):
                get_logger().warning('the deployment %r is gone (%s): launching it again',
                                     name, rec.url or 'no URL')
            job = job_of(rec)
            if job is not None:
                job.stop()            # a job that runs but does not answer
        dep.deploy_name = name
        dep.start(detach=detach)
        job, launcher = dep.job, dep.launched_by.ref
        rec = Record(name=name, model=dep.model, path=str(folder), type=str(dep.type),
                     engine=engine.name, options=json.loads(json.dumps(options, default=str)),
                     config_hash=digest, url=dep.url, pid=job.pid, job_id=job.job_id,
                     launcher=launcher, log_path=str(job.log_path), owner_pid=os.getpid(),
                     detached=detach, status='running')
        reg.put(rec)
        dep.named = Named.of(rec, owner=True)


def stop_named(named: Named, *, ended: bool) -> None:
    """Record in the registry that the engine of ``named`` ended (``ended``) or not."""
    if ended:
        _registry().update(named.name, status='stopped', last_seen=time.time())


def end_engine(named: Named) -> None:
    """End the engine of a named deployment this process did not launch."""
    job = job_of(named)
    if job is not None:
        job.stop()


def connect(name: str) -> Any:
    """A TrainableModule attached to the deployment registered as ``name``."""
    from ._trainable import TrainableModule
    rec = _registry().get(name)
    if rec is None:
        known = ', '.join(r.name for r in _registry().all()) or 'none yet'
        raise InputError(f'no deployment is named {name!r} (known: {known}): start one with '
                         f"TrainableModule(model).start(name={name!r}) or `lazyllm deploy "
                         f"MODEL --name {name}`.")
    m = TrainableModule(url=rec.url, type=rec.type or None, name=name)
    m.deployment.named = Named.of(rec)
    return m.start()


def deployments() -> list:
    """Every registered deployment, with its status checked now (process and URL)."""
    reg, out = _registry(), []
    for rec in reg.all():
        if rec.status in ('running', 'starting'):
            ok = alive(rec, deep=False)
            status = 'running' if ok else 'failed'
            rec = reg.update(rec.name, status=status, **({'last_seen': time.time()} if ok
                                                          else {})) or rec
        out.append(rec)
    return out
