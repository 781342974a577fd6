"""The watchdog between lazyllm and an engine, so that no engine outlives its lazyllm.

``python _watchdog.py --parent PID [--grace SECONDS] -- PROGRAM ARGS...``

``--parent 0`` means "no parent": the job is detached and runs until it is stopped (or its
engine exits); everything else below still applies.

The local launcher starts this as the leader of a new process group; it starts the engine as
its child in the same group and then:

- exits with the engine's exit code when the engine exits (an engine ended by a signal makes
  the watchdog end by the same signal), so the launcher sees the engine's result;
- forwards SIGTERM, SIGINT and SIGHUP to the engine: signalling the watchdog stops the job;
- checks every 0.5 s whether the parent is alive (unless ``--parent 0``). When the parent
  died, even by SIGKILL when no ``atexit`` handler can run, it sends the engine SIGTERM;
- before exiting, ends whatever is left of the group (processes the engine started): SIGTERM,
  then SIGKILL ``--grace`` seconds after the shutdown began.

PR_SET_PDEATHSIG is not used: it fires when the launching *thread* exits, and lazyllm launches
from thread pools. Only the standard library is imported, and the launcher runs this file by
path (``python -I -S``) rather than with ``-m``, which would import lazyllm first: the
watchdog starts in a few tens of milliseconds.
"""
from __future__ import annotations

import argparse
import os
import select
import signal
import subprocess
import sys
import time

POLL = 0.5            # seconds between checks that the parent is alive
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def _say(message: str) -> None:
    print(f'[lazyllm watchdog] {message}', file=sys.stderr, flush=True)


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog='lazyllm.launch._watchdog',
        usage='%(prog)s --parent PID [--grace SECONDS] -- PROGRAM [ARGS...]')
    parser.add_argument('--parent', type=int, required=True,
                        help='the process whose death stops the engine; 0: none (detached)')
    parser.add_argument('--grace', type=float, default=10.0,
                        help='seconds between SIGTERM and SIGKILL when shutting down')
    if '--' not in argv or argv.index('--') == len(argv) - 1:
        parser.error('give the engine command after --')
    split = argv.index('--')
    args = parser.parse_args(argv[:split])
    if args.parent < 0:
        parser.error('--parent must be a pid, or 0 for none')
    args.cmd = argv[split + 1:]
    return args


def _proc_stat(pid: int | str) -> tuple[bytes, int] | None:
    """(state, process group) of ``pid`` from /proc; None if it is gone or /proc is absent."""
    try:
        with open(f'/proc/{pid}/stat', 'rb') as f:
            stat = f.read()
    except OSError:
        return None
    state, _ppid, pgrp = stat[stat.rindex(b')') + 2:].split()[:3]
    return state, int(pgrp)


def _parent_alive(parent: int, is_direct_parent: bool) -> bool:
    if is_direct_parent:  # robust against pid reuse: a dead parent's children are re-parented
        return os.getppid() == parent
    if os.path.isdir('/proc'):
        stat = _proc_stat(parent)
        return stat is not None and stat[0] != b'Z'  # a zombie is dead, only not yet reaped
    try:
        os.kill(parent, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of group ``pgid`` other than this one ([] without /proc)."""
    try:
        entries = os.listdir('/proc')
    except OSError:
        return []
    me, found = os.getpid(), []
    for entry in entries:
        if entry.isdigit() and int(entry) != me:
            stat = _proc_stat(entry)
            if stat is not None and stat[1] == pgid and stat[0] != b'Z':
                found.append(int(entry))
    return found


def _send(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _sweep(pgid: int, deadline: float) -> None:
    """End the rest of the group: SIGTERM now, SIGKILL whatever is still there at deadline."""
    left = group_members(pgid)
    if left:
        _send(left, signal.SIGTERM)
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = group_members(pgid)
    _send(left, signal.SIGKILL)


def _exit_like(code: int) -> int:
    """Leave with the engine's result: its exit code, or death by the signal that ended it."""
    if code >= 0:
        return code
    try:
        signal.signal(-code, signal.SIG_DFL)
    except (OSError, ValueError):
        pass
    os.kill(os.getpid(), -code)
    return 128 - code  # only reached for a signal that does not end a process


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    received: list[int] = []
    # signals wake the select() below through this pipe, so a stop is acted on at once
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    for sig in FORWARDED:
        signal.signal(sig, lambda signum, _frame: received.append(signum))
    signal.signal(signal.SIGCHLD, lambda *_: None)  # the engine exiting wakes select() too

    is_direct_parent = os.getppid() == args.parent
    try:
        engine = subprocess.Popen(args.cmd)
    except OSError as e:
        _say(f'cannot start {args.cmd[0]!r}: {e}')
        return 127 if isinstance(e, FileNotFoundError) else 126

    deadline = None  # set when a shutdown begins: SIGKILL for what is left at that time
    while engine.poll() is None:
        now = time.monotonic()
        while received:
            _send([engine.pid], received.pop(0))
            deadline = deadline or now + args.grace
        if deadline is None and args.parent and not _parent_alive(args.parent,
                                                                  is_direct_parent):
            _say(f'parent process {args.parent} is gone; stopping the engine')
            _send([engine.pid], signal.SIGTERM)
            deadline = now + args.grace
        if deadline is not None and now >= deadline:
            break
        timeout = POLL if deadline is None else min(POLL, deadline - now)
        if select.select([wake_r], [], [], timeout)[0]:
            os.read(wake_r, 512)
    _sweep(os.getpgrp(), deadline or time.monotonic() + args.grace)
    return _exit_like(engine.wait())


if __name__ == '__main__':
    sys.exit(main())
