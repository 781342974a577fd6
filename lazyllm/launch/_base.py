"""The launcher seam: where an engine process runs.

A ``Launcher`` turns an argv into a running ``Job``: on this machine (local), on a Slurm
cluster or on Ray. The deployment layer only sees this seam: it asks the launcher for a host
and a port, builds the engine's argv with them, launches it, polls ``/health`` itself (the
launcher never scrapes logs for readiness) and stops the job. ``Resources`` says what a job
needs; a launcher honours what it can and rejects, with ``InputError``, what it cannot.

Where a job runs, and so which address and port its engine can bind, is known only once it
runs (a Slurm job waits in a queue, then lands on some node). So an argv names them with the
placeholders ``HOST`` and ``PORT``; the launcher fills them in where the job runs, and the
job reports them as ``job.host``, ``job.port`` and ``job.url`` (None until known).

``Launcher.launch`` validates the arguments once for every launcher, then calls the
subclass's ``_start``; a new launcher implements ``_start`` and ``attach`` and sets ``name``.
"""
from __future__ import annotations

import atexit
import os
import signal
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence, TypeGuard

from .._config import Config
from .._names import safe_name
from ..errors import InputError
from ._node import HOST, OWN_PORT, PORT, fill_endpoint, parse_endpoint

__all__ = ['Resources', 'Launcher', 'Job', 'Status', 'STATUSES', 'ENDED', 'HOST', 'PORT',
           'OWN_PORT',
           'fill_endpoint', 'log_dir', 'merged_env', 'tail_file', 'stop_at_exit', 'forget_at_exit']

Status = Literal['pending', 'running', 'exited', 'failed', 'stopped']
STATUSES: tuple[str, ...] = ('pending', 'running', 'exited', 'failed', 'stopped')
ENDED: frozenset[str] = frozenset({'exited', 'failed', 'stopped'})
_EXIT_TIMEOUT = 5.0     # seconds a job's own stop() gets at interpreter exit (Job._exit_ask)



def _is_int(v: Any) -> TypeGuard[int]:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> TypeGuard[int | float]:
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

    def over(self, base: Resources) -> Resources:
        """These resources with every field left at its default taken from ``base`` (a
        launcher's defaults, e.g. ``launchers.slurm(partition='gpu')``)."""
        default = Resources()
        merged = {}
        for f in fields(self):
            mine = getattr(self, f.name)
            merged[f.name] = getattr(base, f.name) if mine == getattr(default, f.name) else mine
        return Resources(**merged)

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


# signals a process gets from its own fault, not from a sender
_CRASHES = {'SIGSEGV', 'SIGBUS', 'SIGILL', 'SIGFPE', 'SIGABRT'}


class Job(ABC):
    """One engine process (or cluster job) started by a launcher.

    ``status`` is 'pending' (queued by a scheduler, not running yet), 'running', 'exited'
    (ended by itself with code 0), 'failed' (ended by itself with another code or signal, or
    cancelled by someone else) or 'stopped' (ended by ``stop()``); ``ended`` is True for the
    last three. Jobs are context managers: leaving the ``with`` block stops the job.
    """

    def __init__(self, *, name: str, argv: Sequence[str], host: str | None, log_path: Path,
                 port: int | None = None):
        self.name = name
        self.argv = tuple(argv)
        self.host = host
        self.port = port
        self.log_path = Path(log_path)
        self.started_at = time.time()
        self._endpoint: dict = {}

    @property
    @abstractmethod
    def job_id(self) -> str:
        """The launcher's id of the job (a pid locally, a job id on a cluster)."""

    @property
    def pid(self) -> int | None:
        """The local process id when there is one on this machine."""
        return None

    @property
    def node(self) -> str | None:
        """The machine the job runs on, by the launcher's name for it."""
        return None

    # cluster jobs learn host and port from the line the node script prints (``_node.py``);
    # a job launched with ``OWN_PORT`` from the line its program prints once it has bound
    announces_endpoint = False
    awaits_port = False

    @property
    def endpoint(self) -> dict:
        """What the node script and the program announced (host, port, node, pid,
        cuda_visible_devices); {} before they have, and for local jobs given a port."""
        return self._read_endpoint()

    def _read_endpoint(self) -> dict:
        if self.port is None and (self.awaits_port or
                                  self.announces_endpoint and not self._endpoint):
            head = self.read_output(0)[:8192].decode('utf-8', 'replace')
            self._endpoint = parse_endpoint(head) or {}
            if self._endpoint:
                self.host = self._endpoint.get('host') or self.host
                self.port = self._endpoint.get('port')
        return self._endpoint

    @property
    def url(self) -> str | None:
        """``http://host:port`` once the job's endpoint is known, else None."""
        if self.host is None or self.port is None:
            self._read_endpoint()           # a cluster job may have announced them by now
        if self.host is None or self.port is None:
            return None
        host = f'[{self.host}]' if ':' in self.host else self.host
        return f'http://{host}:{self.port}'

    @property
    @abstractmethod
    def status(self) -> Status:
        """The current status; never blocks for long."""

    @property
    def ended(self) -> bool:
        """Whether the job has ended, whichever way."""
        return self.status in ENDED

    @property
    def reason(self) -> str:
        """Why a pending job waits, in the scheduler's words ('' when not known)."""
        return ''

    @property
    @abstractmethod
    def returncode(self) -> int | None:
        """Exit code once ended (negative: the signal that ended it); None while running."""

    @property
    def exit_text(self) -> str:
        """How the job ended, for an error message: 'exit code 4'; a negative code names its
        signal, and a crash signal says so, since a native crash leaves no traceback in the
        log to explain it ('exit code -11: killed by SIGSEGV, a crash in its native code');
        '' while running or when unknown."""
        code = self.returncode
        if code is None:
            return ''
        if code >= 0:
            return f'exit code {code}'
        try:
            name = signal.Signals(-code).name
        except ValueError:
            return f'exit code {code}: killed by signal {-code}'
        crashed = ', a crash in its native code' if name in _CRASHES else ''
        return f'exit code {code}: killed by {name}{crashed}'

    @abstractmethod
    def stop(self, timeout: float = 10.0) -> Status:
        """End the job and everything it started; ask politely, force after ``timeout``
        seconds. Idempotent; a job that already ended keeps its status."""

    @abstractmethod
    def wait(self, timeout: float | None = None) -> Status:
        """Block until the job ends or ``timeout`` seconds pass; return the status."""

    def read_output(self, offset: int = 0) -> bytes:
        """The job's output (stdout and stderr) from byte ``offset`` on, for following it."""
        return read_file(self.log_path, offset)

    def tail_output(self, lines: int) -> tuple[bytes, int]:
        """The last ``lines`` lines of the output and the offset they end at, from which
        ``read_output`` follows it."""
        return tail_file(self.log_path, lines)

    def logs(self, lines: int = 50) -> str:
        """The last ``lines`` lines of the job's output (stdout and stderr)."""
        if not _is_int(lines) or lines < 0:
            raise InputError(f'lines must be an int >= 0, got {lines!r}.')
        return self.tail_output(lines)[0].decode('utf-8', errors='replace').rstrip('\n')

    def _exit_ask(self) -> None:
        """At interpreter exit (``stop_at_exit``), step one, for every job in turn: ask the
        job to end. A job that can be asked without waiting for it (a signal) waits in
        ``_exit_wait``, so that all such jobs end in parallel; by default this is the whole
        ``stop``."""
        self.stop(timeout=_EXIT_TIMEOUT)

    def _exit_wait(self) -> None:
        """At exit, step two, once every job was asked: wait for this one to end. Nothing to
        wait for by default: ``_exit_ask`` stopped it."""
        return None

    def __enter__(self) -> Job:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        return (f'<{type(self).__name__} {self.name} id={self.job_id} {self.status} '
                f'log={self.log_path}>')


def read_file(path: str | os.PathLike, offset: int = 0) -> bytes:
    """``path``'s bytes from ``offset`` on (to follow a log); ``b''`` if it is missing."""
    try:
        with open(path, 'rb') as f:
            f.seek(offset)
            return f.read()
    except OSError:
        return b''


def tail_file(path: str | os.PathLike, lines: int, block: int = 8192) -> tuple[bytes, int]:
    """The last ``lines`` lines of ``path`` and the offset they end at (to follow the file
    from there), read backwards in blocks: logs grow large. ``(b'', 0)`` if it is missing."""
    try:
        f = open(path, 'rb')
    except OSError:
        return b'', 0
    with f:
        end = pos = f.seek(0, os.SEEK_END)
        data = b''
        # one line more than asked: the first block may start in the middle of a line
        while lines and pos > 0 and data.count(b'\n') <= lines:
            step = min(block, pos)
            pos -= step
            f.seek(pos)
            data = f.read(step) + data
    keep = data.splitlines(keepends=True)[-lines:] if lines else []
    return b''.join(keep), end


class Launcher(ABC):
    """Where engine processes run. Subclasses set ``name``, implement ``_start`` and
    ``attach``, and may override ``check_resources`` to reject what they cannot honour.

    ``resources`` are the launcher's defaults for every job (``launchers.slurm(ngpus=2)``);
    the ``resources=`` of one ``launch`` override the fields they set.
    """

    name: str = ''

    def __init__(self, resources: Resources | Mapping[str, Any] | None = None):
        self.resources = Resources.of(resources)

    @property
    def ref(self) -> str:
        """A string from which ``get_launcher`` rebuilds a launcher that reaches the same
        jobs in another process (the registry keeps it): ``'local'``, ``'slurm'``,
        ``'ray:http://head:8265'``."""
        return self.name

    @classmethod
    def from_ref(cls, rest: str) -> Launcher:
        """The launcher for ``ref`` ``'<name>:<rest>'`` (``rest`` is '' for a bare name)."""
        return cls()

    def check_resources(self, resources: Resources) -> Resources:
        """Reject (InputError) resources this launcher cannot provide; return the rest."""
        return resources

    def check_port(self, port: int) -> None:
        """Raise DeployError if a fixed ``port`` is known to be taken where jobs run (on a
        cluster it cannot be known before the job lands on a node)."""
        return None

    def launch(self, argv: Sequence[str], *, env: Mapping[str, str | None] | None = None,
               name: str | None = None,
               resources: Resources | Mapping[str, Any] | None = None,
               detach: bool = False) -> Job:
        """Start ``argv`` and return its Job at once (readiness is the caller's business).

        ``argv`` may hold the ``HOST`` and ``PORT`` placeholders, or ``OWN_PORT`` for a
        program that binds a free port itself and prints its endpoint line (``_node.py``) with
        it: the job's ``port`` is then read from its output. ``env`` is merged over the
        job's environment (None unsets a variable); ``name`` (default: the program's name)
        labels the job and its log file. ``detach=True`` lets the job outlive the launching
        interpreter, even when it is killed: it runs until stopped, by this Job or by a
        handle another process gets from ``attach``.
        """
        argv = _check_argv(argv)
        env = _check_env(env)
        name = _job_name(name, argv)
        if not isinstance(detach, bool):
            raise InputError(f'detach must be True or False, not {type(detach).__name__} '
                             f'{detach!r}.')
        resources = self.check_resources(Resources.of(resources).over(self.resources))
        job = self._start(argv, env=env, name=name, resources=resources, detach=detach)
        job.awaits_port = any(OWN_PORT in a for a in argv)
        return job

    @abstractmethod
    def _start(self, argv: list[str], *, env: dict[str, str | None], name: str,
               resources: Resources, detach: bool = False) -> Job:
        """Start validated arguments; ``env`` holds only the caller's overrides."""

    @abstractmethod
    def attach(self, job_id: str, *, log_path: str | os.PathLike = '',
               name: str = 'job') -> Job:
        """A handle on a job this launcher started, from any process: ``stop()`` ends it,
        ``status`` follows it. A job the launcher no longer knows is ended."""

    def __repr__(self) -> str:
        return f'<{type(self).__name__} {self.ref}>'


# -- the jobs to stop when this interpreter exits ------------------------------------------
_exit_jobs: dict[Job, int] = {}   # job -> pid of the process that launched it, in launch order
_exit_lock = threading.Lock()
_exit_registered = False


def stop_at_exit(job: Job) -> None:
    """Stop ``job`` when this interpreter exits (every job not launched with detach=True)."""
    global _exit_registered
    with _exit_lock:
        if not _exit_registered:     # registered at the first launch, not at import
            atexit.register(_stop_exit_jobs)
            _exit_registered = True
        _exit_jobs[job] = os.getpid()


def forget_at_exit(job: Job) -> None:
    """Nothing to do for ``job`` at exit any more: it ended, or was stopped."""
    with _exit_lock:
        _exit_jobs.pop(job, None)


def _stop_exit_jobs() -> None:
    """atexit: stop every job this process launched (a forked child leaves its parent's
    alone), the newest first: a Ray job before the local Ray head it runs on. Every job is
    asked to end, then each is waited for, so that those that can end in parallel do."""
    with _exit_lock:
        jobs = [job for job, owner in reversed(_exit_jobs.items()) if owner == os.getpid()]
    for job in jobs:
        _quietly(job._exit_ask)
    for job in jobs:
        _quietly(job._exit_wait)


def _quietly(step: Any) -> None:
    try:
        step()
    except Exception:   # noqa: BLE001 - at exit, one failure must not skip the others
        pass
