"""Launching a named deployment in the background, as ``lazyllm deploy --detach`` does.

The command line (``lazyllm deploy --detach``) and the gateway (``POST /v1/deployments``) both
launch through :func:`deploy_detached`, so a deployment started over HTTP is started exactly
as one started from a shell: a ``python -m lazyllm deploy MODEL --name NAME …`` process in a
session of its own (it outlives whoever asked: a closed shell, a restarted gateway), its
output in ``<home>/logs/deploy-NAME-<time>.log``. A ``starting`` row is in the registry before
the function returns, so ``lazyllm ps`` shows the deployment and ``lazyllm stop`` ends it
(ending that deploy process, which stops the engine it is launching) from the first moment.
The deploy process then does what ``lazyllm deploy`` always does: it resolves the model,
launches the engine, waits until it answers and registers it ``running``; a failure is its
last ``Error:`` line, and the row turns ``failed``.

The argv names ``lazyllm deploy``'s flags: the child *is* that command, so this module is
where the command line of a detached deploy is spelled, once.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from .._config import config

__all__ = ['DetachedDeploy', 'LAUNCHERS', 'default_name', 'deploy_argv', 'deploy_detached',
           'deploy_logs']

# the places ``lazyllm deploy --launcher`` takes (its argparse choices)
LAUNCHERS = ('local', 'slurm', 'ray')


@dataclass(frozen=True)
class DetachedDeploy:
    """A deploy process launched in the background: its process (the caller reaps it, see
    ``deploy_detached``), its log, and whether it wrote the ``starting`` row."""
    name: str
    process: subprocess.Popen
    log: Path
    registered: bool


def default_name(model: str) -> str:
    """The model folder's name: ``/models/SmolLM2-135M/`` and ``org/SmolLM2-135M`` give
    ``SmolLM2-135M``; a GGUF file's without the suffix (``smol.Q4_1.gguf``: ``smol.Q4_1``)."""
    name = Path(model.rstrip('/\\')).name or model
    return name[:-5] if name.lower().endswith('.gguf') and len(name) > 5 else name


def deploy_argv(model: str, name: str, *, engine: str = 'auto',
                options: Iterable[tuple[str, Any]] = (), port: int | None = None,
                launcher: str | None = None, resources: Mapping[str, Any] | None = None,
                config_file: str | None = None, config_id: str | None = None,
                replica_of: str | None = None) -> list[str]:
    """The ``lazyllm deploy`` arguments (after ``python -m lazyllm``) that deploy ``model``
    as ``name`` in the foreground. Option values are written as JSON, which the command
    parses back to the same value; ``--option=K=V`` keeps a value that starts with ``-``."""
    argv = ['deploy', model, '--name', name, '--engine', engine]
    if replica_of:
        argv += ['--replica-of', replica_of]
    if config_file:
        argv += ['--config', os.path.abspath(config_file)]
        argv += ['--config-id', config_id] if config_id else []
    if port is not None:
        argv += ['--port', str(port)]
    for key, value in options:
        argv.append(f'--option={key}={json.dumps(value)}')
    if launcher:
        argv += ['--launcher', launcher]
    for flag, value in (resources or {}).items():
        if value:
            argv += ['--' + flag.replace('_', '-'), str(value)]
    return argv


def _log_file(name: str) -> Path:
    logs = config.home() / 'logs'
    logs.mkdir(parents=True, exist_ok=True)
    return logs / f'deploy-{name}-{time.strftime("%Y%m%d-%H%M%S")}.log'


def deploy_logs(name: str) -> list[tuple[Path, float]]:
    """The logs of the detached deploys of ``name`` and when each was last written, newest
    first (where a deploy that failed before or while launching its engine wrote why)."""
    found = []
    for path in (config.home() / 'logs').glob(f'deploy-{name}-*.log'):
        try:
            found.append((path, path.stat().st_mtime))
        except OSError:          # removed meanwhile
            pass
    return sorted(found, key=lambda pm: pm[1], reverse=True)


def deploy_detached(model: str, name: str, *, engine: str = 'auto',
                    options: Iterable[tuple[str, Any]] = (), port: int | None = None,
                    launcher: str | None = None, resources: Mapping[str, Any] | None = None,
                    config_file: str | None = None, config_id: str | None = None,
                    env: Mapping[str, str] | None = None,
                    replica_of: str | None = None) -> DetachedDeploy:
    """Start ``lazyllm deploy`` for ``model`` as ``name`` in a session of its own and write
    its ``starting`` row; return at once. A live deployment of that name is left as it is
    (the deploy process reuses it, or refuses another configuration in its log), and no row
    is written then. ``env``: the deploy process's environment (default: this one's).

    A long-lived caller must reap the returned process (``process.wait()`` in a thread), or
    it stays a zombie once it exits; a command that exits right after need not."""
    from ..registry import Record, Registry, check_name
    check_name(name)
    options = list(options)
    argv = deploy_argv(model, name, engine=engine, options=options, port=port,
                       launcher=launcher, resources=resources, config_file=config_file,
                       config_id=config_id, replica_of=replica_of)
    log = _log_file(name)
    reg = Registry()
    existing = reg.get(name)
    with open(log, 'ab') as out:
        proc = subprocess.Popen([sys.executable, '-m', 'lazyllm', *argv],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, env=dict(env) if env is not None
                                else None)
    fresh = existing is None or existing.status not in ('running', 'starting')
    if fresh:
        reg.put(Record(name=name, model=model, engine=engine, options=dict(options),
                       launcher=launcher or config['default_launcher'] or 'local',
                       owner_pid=proc.pid, detached=True, status='starting',
                       log_path=str(log), replica_of=replica_of or ''))
    return DetachedDeploy(name, proc, log, fresh)
