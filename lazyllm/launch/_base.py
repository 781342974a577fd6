"""The launcher seam: where an engine process runs.

A ``Launcher`` turns an argv into a running ``Job``: on this machine (local), on a Slurm
cluster or on Ray. The deployment layer only sees this seam: it asks the launcher for a host
and a port, builds the engine's argv with them, launches it, polls ``/health`` itself (the
launcher never scrapes logs for readiness) and stops the job. ``Resources`` says what a job
needs; a launcher honours what it can and rejects, with ``InputError``, what it cannot.

``Launcher.launch`` validates the arguments once for every launcher, then calls the
subclass's ``_start``; a new launcher implements ``host``, ``allocate_port`` and ``_start``.
"""
from __future__ import annotations

import os
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence

from .._config import Config
from .._names import safe_name
from ..errors import InputError

__all__ = ['Resources', 'Launcher', 'Job', 'Status', 'STATUSES', 'log_dir', 'merged_env']

Status = Literal['running', 'exited', 'failed', 'stopped']
STATUSES: tuple[str, ...] = ('running', 'exited', 'failed', 'stopped')


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


@dataclass(frozen=True)
class Resources:
    """What one job needs. ``None`` means "the launcher's default".

    ``time_limit`` is in seconds; ``extra_args`` are passed verbatim to a cluster launcher's
    submit command (e.g. ``['--qos=high']`` for sbatch). The local launcher runs on one
    machine: it rejects ``nodes > 1`` and ignores the rest.
    """
    cpus: int | None = None
    memory_gb: float | None = None
    gpus: int = 0
    nodes: int = 1
    time_limit: float | None = None
    partition: str | None = None
    extra_args: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        checks = [
            ('cpus', self.cpus is None or (_is_int(self.cpus) and self.cpus >= 1),
             'an int >= 1 or None'),
            ('memory_gb', self.memory_gb is None or (_is_number(self.memory_gb)
                                                     and self.memory_gb > 0),
             'a number > 0 or None'),
            ('gpus', _is_int(self.gpus) and self.gpus >= 0, 'an int >= 0'),
            ('nodes', _is_int(self.nodes) and self.nodes >= 1, 'an int >= 1'),
            ('time_limit', self.time_limit is None or (_is_number(self.time_limit)
                                                       and self.time_limit > 0),
             'a number of seconds > 0 or None'),
            ('partition', self.partition is None or (isinstance(self.partition, str)
                                                     and self.partition != ''),
             'a non-empty str or None'),
        ]
        for name, ok, want in checks:
            if not ok:
                raise InputError(f'Resources.{name} must be {want}, got '
                                 f'{getattr(self, name)!r}. Pass a valid value.')
        extra = self.extra_args
        if isinstance(extra, str) or not isinstance(extra, Sequence) \
                or not all(isinstance(a, str) for a in extra):
            raise InputError(f'Resources.extra_args must be a list of str such as '
                             f"['--qos=high'], got {extra!r}.")
        object.__setattr__(self, 'extra_args', tuple(extra))

    @classmethod
    def of(cls, value: Resources | Mapping[str, Any] | None) -> Resources:
        """``value`` as Resources: None gives the defaults, a mapping gives its fields."""
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, Mapping):
            known = {f.name for f in fields(cls)}
            unknown = sorted(set(value) - known)
            if unknown:
                raise InputError(f'unknown resource(s) {", ".join(map(str, unknown))}; '
                                 f'known: {", ".join(sorted(known))}.')
            return cls(**value)
        raise InputError(f'resources must be a lazyllm.launch.Resources or a dict, '
                         f'not {type(value).__name__}.')


def log_dir() -> Path:
    """``<lazyllm home>/logs``, created now (at launch time, never at import)."""
    path = Config.home() / 'logs'
    path.mkdir(parents=True, exist_ok=True)
    return path


def merged_env(overrides: Mapping[str, str | None] | None) -> dict[str, str]:
    """``os.environ`` with ``overrides`` applied; a value of None removes the variable."""
    env = dict(os.environ)
    for key, value in (overrides or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def _check_argv(argv: Any) -> list[str]:
    if isinstance(argv, (str, bytes)) or not isinstance(argv, Sequence):
        raise InputError(f'argv must be a list of str such as [sys.executable, "-m", '
                         f'"http.server"], not {type(argv).__name__}; split the command line '
                         f'with shlex.split() if you have one string.')
    if not argv:
        raise InputError('argv is empty: pass the program and its arguments, e.g. '
                         '[sys.executable, "-m", "http.server"].')
    bad = [(i, a) for i, a in enumerate(argv) if not isinstance(a, str)]
    if bad:
        i, a = bad[0]
        raise InputError(f'argv[{i}] is {type(a).__name__} {a!r}; every item must be a str. '
                         f'Convert numbers with str(), e.g. str(port).')
    if not argv[0]:
        raise InputError('argv[0] is empty: it must name the program to run.')
    return list(argv)


def _check_env(env: Any) -> dict[str, str | None]:
    if env is None:
        return {}
    if not isinstance(env, Mapping):
        raise InputError(f'env must be a dict of str to str, not {type(env).__name__}.')
    for key, value in env.items():
        if not isinstance(key, str) or not key or '=' in key \
                or not (value is None or isinstance(value, str)):
            raise InputError(f'env entry {key!r}: {type(value).__name__} is not valid; names '
                             f'must be non-empty str without "=", values str (or None to '
                             f'unset). Convert numbers with str().')
    return dict(env)


def _job_name(name: Any, argv: list[str]) -> str:
    if name is None:
        name = os.path.basename(argv[0])
    if not isinstance(name, str):
        raise InputError(f'name must be a str, not {type(name).__name__}.')
    # the name becomes part of a file name: keep it to a safe, short component
    return safe_name(name, 64, 'job')


class Job(ABC):
    """One engine process (or cluster job) started by a launcher.

    ``status`` is 'running', 'exited' (ended by itself with code 0), 'failed' (ended by
    itself with another code or signal) or 'stopped' (ended by ``stop()``). Jobs are context
    managers: leaving the ``with`` block stops the job.
    """

    def __init__(self, *, name: str, argv: Sequence[str], host: str, log_path: Path):
        self.name = name
        self.argv = tuple(argv)
        self.host = host
        self.log_path = Path(log_path)
        self.started_at = time.time()

    @property
    @abstractmethod
    def job_id(self) -> str:
        """The launcher's id of the job (a pid locally, a job id on a cluster)."""

    @property
    def pid(self) -> int | None:
        """The local process id when there is one on this machine."""
        return None

    @property
    @abstractmethod
    def status(self) -> Status:
        """The current status; never blocks."""

    @property
    @abstractmethod
    def returncode(self) -> int | None:
        """Exit code once ended (negative: the signal that ended it); None while running."""

    @abstractmethod
    def stop(self, timeout: float = 10.0) -> Status:
        """End the job and everything it started; ask politely, force after ``timeout``
        seconds. Idempotent; a job that already ended keeps its status."""

    @abstractmethod
    def wait(self, timeout: float | None = None) -> Status:
        """Block until the job ends or ``timeout`` seconds pass; return the status."""

    def logs(self, lines: int = 50) -> str:
        """The last ``lines`` lines of the job's output (stdout and stderr)."""
        if not _is_int(lines) or lines < 0:
            raise InputError(f'lines must be an int >= 0, got {lines!r}.')
        return _tail(self.log_path, lines)

    def __enter__(self) -> Job:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        return (f'<{type(self).__name__} {self.name} id={self.job_id} {self.status} '
                f'log={self.log_path}>')


def _tail(path: Path, lines: int, block: int = 8192) -> str:
    """The last ``lines`` lines of ``path``, read backwards in blocks (logs grow large)."""
    if lines == 0:
        return ''
    try:
        f = open(path, 'rb')
    except FileNotFoundError:
        return ''
    with f:
        end = f.seek(0, os.SEEK_END)
        data, pos = b'', end
        # one line more than asked: the first block may start in the middle of a line
        while pos > 0 and data.count(b'\n') <= lines:
            step = min(block, pos)
            pos -= step
            f.seek(pos)
            data = f.read(step) + data
    text = data.decode('utf-8', errors='replace')
    return '\n'.join(text.splitlines()[-lines:])


class Launcher(ABC):
    """Where engine processes run. Subclasses implement ``host``, ``allocate_port`` and
    ``_start``, and may override ``check_resources`` to reject what they cannot honour."""

    @property
    @abstractmethod
    def host(self) -> str:
        """The address engines should bind and clients use."""

    @abstractmethod
    def allocate_port(self) -> int:
        """A TCP port that is free where the engine will run."""

    def check_resources(self, resources: Resources) -> Resources:
        """Reject (InputError) resources this launcher cannot provide; return the rest."""
        return resources

    def launch(self, argv: Sequence[str], *, env: Mapping[str, str | None] | None = None,
               name: str | None = None,
               resources: Resources | Mapping[str, Any] | None = None,
               detach: bool = False) -> Job:
        """Start ``argv`` and return its Job at once (readiness is the caller's business).

        ``env`` is merged over ``os.environ`` (None unsets a variable); ``name`` (default:
        the program's name) labels the job and its log file. ``detach=True`` lets the job
        outlive the launching interpreter, even when it is killed: it runs until stopped,
        by this Job or by a handle another process attaches to it.
        """
        argv = _check_argv(argv)
        env = _check_env(env)
        name = _job_name(name, argv)
        if not isinstance(detach, bool):
            raise InputError(f'detach must be True or False, not {type(detach).__name__} '
                             f'{detach!r}.')
        resources = self.check_resources(Resources.of(resources))
        return self._start(argv, env=env, name=name, resources=resources, detach=detach)

    @abstractmethod
    def _start(self, argv: list[str], *, env: dict[str, str | None], name: str,
               resources: Resources, detach: bool = False) -> Job:
        """Start validated arguments; ``env`` holds only the caller's overrides. A launcher
        that cannot detach jobs raises InputError when ``detach`` is True."""

    def __repr__(self) -> str:
        return f'<{type(self).__name__} host={self.host}>'
