"""The local launcher (the default): engines run as processes on this machine.

Each job is a process group led by the watchdog (``_watchdog.py``), whose child is the engine.
Output goes to ``<lazyllm home>/logs/<name>-<YYYYmmdd-HHMMSS>-<pid>.log``.

No engine outlives the interpreter that launched it: ``stop()`` ends the whole group; an
``atexit`` handler stops every job still running at exit; and when the interpreter is killed
outright the watchdog notices within half a second and stops the engine.

Unless the job is launched with ``detach=True``: then the watchdog watches no parent and the
atexit handler skips the job, which runs until it is stopped, from this interpreter or from
another one through ``LocalJob.attach(pid, log_path=...)``.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Sequence

from .._log import get_logger
from ..errors import DeployError, InputError
from ._base import (
    PORT,
    Job,
    Launcher,
    Resources,
    Status,
    _is_int,
    _is_number,
    fill_endpoint,
    forget_at_exit,
    log_dir,
    merged_env,
    stop_at_exit,
)
from ._ports import allocate_port, port_is_free
from ._watchdog import group_members

__all__ = ['LocalLauncher', 'LocalJob', 'pid_alive']

LOCALHOST = '127.0.0.1'
_WATCHDOG = str(Path(__file__).with_name('_watchdog.py'))
_WATCHDOG_NAME = b'_watchdog.py'


def _check_timeout(value: object, what: str) -> float:
    if not _is_number(value) or value < 0:
        raise InputError(f'{what} must be a number of seconds >= 0, got {value!r}.')
    return float(value)


def _check_program(program: str, env: dict[str, str]) -> None:
    """Fail now, with the fix, rather than as a log line of a job that died at once."""
    if os.sep in program:
        if not os.path.exists(program):
            raise DeployError(f'cannot launch {program!r}: no such file. Check the path, or '
                              f'install the program.')
        if os.path.isdir(program) or not os.access(program, os.X_OK):
            raise DeployError(f'cannot launch {program!r}: it is not an executable file. Run '
                              f'`chmod +x {program}`, or launch it through its interpreter, '
                              f'e.g. [sys.executable, {program!r}, ...].')
    elif shutil.which(program, path=env.get('PATH', os.defpath)) is None:
        raise DeployError(f'cannot launch {program!r}: not found on PATH. Install it, or pass '
                          f'the full path of the program as argv[0].')


def _kill_group(pgid: int, settle: float = 2.0) -> None:
    """SIGKILL process group ``pgid`` and wait (up to ``settle`` s) until none of it runs."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return
    deadline = time.monotonic() + settle
    while group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.01)


def _leader_is_watchdog(pgid: int) -> bool:
    """False when process ``pgid`` runs but is not a lazyllm watchdog: after a reboot or pid
    reuse the number belongs to a stranger, whose group must not be signalled."""
    try:
        with open(f'/proc/{pgid}/cmdline', 'rb') as f:
            cmdline = f.read()
    except OSError:
        return True  # gone (or no /proc): nothing to tell against it
    return not cmdline or _WATCHDOG_NAME in cmdline  # empty: a zombie


def pid_alive(pid: int) -> bool:
    """Whether the local job whose watchdog is ``pid`` (its process group id) still runs: the
    group has a live (non-zombie) member, and its leader, if still there, is a lazyllm
    watchdog rather than a stranger that got the same pid."""
    if not _is_int(pid) or pid < 1:
        return False
    if os.path.isdir('/proc'):
        return bool(group_members(pid)) and _leader_is_watchdog(pid)
    try:  # without /proc: whether the group exists at all
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


class LocalJob(Job):
    """A process group on this machine: the watchdog (``pid``, also the group id) and the
    engine it started.

    A job this interpreter launched holds the watchdog's ``Popen``. The watchdog is reaped only
    after what is left of its group has been sent SIGKILL: until it is reaped its pid reserves
    the group id, so the signal cannot reach a stranger.

    ``LocalJob.attach(pid, log_path=...)`` is a handle on a detached job another process
    launched: there is no ``Popen`` and the watchdog is not this interpreter's child, so the
    job runs while its group has a live member; its exit code is unknown (``returncode`` stays
    None and a job that ended by itself is 'exited', never 'failed').
    """

    def __init__(self, proc: subprocess.Popen | None, *, name: str, argv: Sequence[str],
                 log_path: Path, grace: float, pid: int | None = None,
                 port: int | None = None):
        super().__init__(name=name, argv=argv, host=LOCALHOST, log_path=log_path, port=port)
        self._proc = proc
        if proc is not None:
            pid = proc.pid
        assert pid is not None, 'LocalJob takes a process, or a pid (from attach())'
        self._pid = pid
        self._grace = grace
        self._stopped = False
        self._lock = threading.Lock()
        self._exit_deadline: float | None = None   # when the grace at exit runs out

    @classmethod
    def attach(cls, pid: int, *, log_path: str | os.PathLike, name: str = 'job',
               argv: Sequence[str] = (), grace: float = 10.0) -> LocalJob:
        """A handle on the detached job whose watchdog is ``pid`` (its ``job.pid``, also the
        process group id), launched by another process. ``stop()`` ends the whole group:
        SIGTERM, then SIGKILL after ``timeout``. A pid that no longer runs gives a job that
        is already 'exited'. The job is not stopped when this interpreter exits."""
        if not _is_int(pid) or pid < 1:
            raise InputError(f'pid must be the job\'s process id, an int >= 1, got {pid!r}.')
        if not isinstance(name, str):
            raise InputError(f'name must be a str, not {type(name).__name__}.')
        return cls(None, name=name, argv=argv, log_path=Path(log_path),
                   grace=_check_timeout(grace, 'attach(grace=)'), pid=pid)

    @property
    def pid(self) -> int:
        return self._pid

    @property
    def job_id(self) -> str:
        return str(self._pid)

    @property
    def attached(self) -> bool:
        """True for a handle from ``attach()`` (the job is another process's child)."""
        return self._proc is None

    @property
    def returncode(self) -> int | None:
        if self._proc is None:
            return None  # not our child: its exit code cannot be known
        if self._leader_exited():
            self._end()
        return self._proc.returncode

    @property
    def status(self) -> Status:
        if self._proc is None:
            if not self._leader_exited():
                return 'running'
            return 'stopped' if self._stopped else 'exited'
        code = self.returncode
        if code is None:
            return 'running'
        if self._stopped:
            return 'stopped'
        return 'exited' if code == 0 else 'failed'

    def stop(self, timeout: float = 10.0) -> Status:
        timeout = _check_timeout(timeout, 'stop(timeout=)')
        if self._request_stop():
            self._await_leader(timeout)
        self._end()
        return self.status

    def wait(self, timeout: float | None = None) -> Status:
        if timeout is None:
            if self._proc is None:
                self._await_leader(None)
            elif self._proc.returncode is None:
                try:  # block without reaping; _end() reaps after sweeping the group
                    os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOWAIT)
                except ChildProcessError:
                    pass
        else:
            self._await_leader(_check_timeout(timeout, 'wait(timeout=)'))
        return self.status

    # -- the steps, also used at interpreter exit to stop many jobs in parallel ------------
    def _leader_exited(self) -> bool:
        """Our child: whether the watchdog ended. Attached: whether the whole group did."""
        if self._proc is None:
            return not pid_alive(self._pid)
        if self._proc.returncode is not None:
            return True
        try:
            return os.waitid(os.P_PID, self.pid,
                             os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
        except ChildProcessError:
            return True

    def _request_stop(self) -> bool:
        """Ask the watchdog to stop the engine; False if the job had already ended."""
        with self._lock:  # not reaped meanwhile by _end(): the pid cannot be a stranger's
            if self._leader_exited():
                return False
            self._stopped = True
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:  # attached, its watchdog gone: the rest of the group
                try:
                    os.killpg(self.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            return True

    def _await_leader(self, timeout: float | None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._leader_exited():
            remaining = 1.0 if deadline is None else deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(0.05, remaining))
        return True

    def _end(self) -> None:
        """Kill what is left of the group (everything, if the grace ran out), then reap."""
        with self._lock:
            if self._proc is None:
                if pid_alive(self._pid):  # never signal a group that is not (any more) ours
                    _kill_group(self._pid)
            elif self._proc.returncode is None:
                _kill_group(self.pid)
                self._proc.wait()
        forget_at_exit(self)

    def _exit_ask(self) -> None:
        # SIGTERM now, waited for in _exit_wait once every job was asked: the engines shut
        # down in parallel, each within its grace
        asked = self._request_stop()
        self._exit_deadline = time.monotonic() + self._grace if asked else None

    def _exit_wait(self) -> None:
        if self._exit_deadline is not None:
            self._await_leader(max(0.0, self._exit_deadline - time.monotonic()))
        self._end()


class LocalLauncher(Launcher):
    """Runs engines on this machine, bound to 127.0.0.1.

    ``grace`` is how long an engine gets to exit after SIGTERM when lazyllm itself exits or
    dies, before SIGKILL. Resources are validated but not enforced: the local launcher
    rejects ``nodes > 1`` and ignores gpus, cpus, memory, time limit, partition and extra
    args (it sees the machine's devices as they are).
    """

    name = 'local'

    def __init__(self, grace: float = 10.0, resources: Resources | dict | None = None):
        super().__init__(resources)
        self.grace = _check_timeout(grace, 'LocalLauncher(grace=)')

    @property
    def host(self) -> str:
        return LOCALHOST

    def allocate_port(self) -> int:
        return allocate_port(LOCALHOST)

    def check_port(self, port: int) -> None:
        if not port_is_free(port, LOCALHOST):
            raise DeployError(f'port {port} on {LOCALHOST} is already in use: pick another '
                              'port= or leave it out to use a free one.')

    def attach(self, job_id: str, *, log_path: str | os.PathLike = '',
               name: str = 'job') -> LocalJob:
        try:
            pid = int(job_id)
        except (TypeError, ValueError):
            raise InputError(f'a local job id is the pid of its watchdog, not '
                             f'{job_id!r}.') from None
        return LocalJob.attach(pid, log_path=log_path, name=name, grace=self.grace)

    def check_resources(self, resources: Resources) -> Resources:
        if resources.nodes > 1:
            raise InputError(f'the local launcher runs on this machine only, but '
                             f'nodes={resources.nodes} was asked. Use a cluster launcher such '
                             f'as slurm or ray (launcher="slurm"), or ask for nodes=1.')
        return resources

    def _start(self, argv: list[str], *, env: dict[str, str | None], name: str,
               resources: Resources, detach: bool = False) -> LocalJob:
        full_env = merged_env(env)
        _check_program(argv[0], full_env)
        port = self.allocate_port() if any(PORT in a for a in argv) else None
        argv = fill_endpoint(argv, LOCALHOST, port)
        logs = log_dir()
        stamp = time.strftime('%Y%m%d-%H%M%S')
        # the file is named after the job's pid, known only once it runs: open, then rename
        fd, tmp = tempfile.mkstemp(prefix=f'.{name}-{stamp}-', suffix='.starting', dir=logs)
        parent = 0 if detach else os.getpid()  # 0: watch no parent, run until stopped
        cmd = [sys.executable, '-I', '-S', _WATCHDOG, '--parent', str(parent),
               '--grace', str(self.grace), '--', *argv]
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=fd,
                                    stderr=subprocess.STDOUT, env=full_env,
                                    start_new_session=True)
        except OSError as e:
            os.unlink(tmp)
            raise DeployError(f'cannot start the watchdog for {argv[0]!r}: {e}. Check that '
                              f'{sys.executable} runs and that the system allows more '
                              f'processes and open files.') from e
        finally:
            os.close(fd)
        log_path = logs / f'{name}-{stamp}-{proc.pid}.log'
        os.replace(tmp, log_path)
        job = LocalJob(proc, name=name, argv=argv, log_path=log_path, grace=self.grace,
                       port=port)
        if not detach:
            stop_at_exit(job)
        get_logger().info('launched %s (pid %s%s), log: %s', name, proc.pid,
                          ', detached' if detach else '', log_path)
        return job
