"""No engine outlives the interpreter that launched it: not at a normal exit (atexit), not
when that interpreter is killed with SIGKILL (the watchdog notices)."""
import subprocess
import sys
import time

from tests.support.procs import group, wait_until

LAUNCH = '''
import sys, time
from lazyllm.launch import LocalLauncher
job = LocalLauncher(grace={grace}).launch({argv!r}, name='orphan')
print(job.pid, flush=True)
{then}
'''
SLEEPER = [sys.executable, '-c', 'import time; time.sleep(1000)']
STUBBORN = [sys.executable, '-c', 'import signal, time; '
            'signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(1000)']


def _parent(argv, then, grace=2):
    """A child interpreter that launches ``argv`` and then runs ``then``; returns it and the
    job's process group id once the engine runs."""
    code = LAUNCH.format(grace=grace, argv=argv, then=then)
    proc = subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE, text=True)
    pgid = int(proc.stdout.readline())
    return proc, pgid


def test_engine_dies_when_its_parent_is_killed():
    proc, pgid = _parent(SLEEPER, 'time.sleep(1000)')
    try:
        assert wait_until(lambda: len(group(pgid)) == 2, timeout=10)  # watchdog + engine
        proc.kill()
        proc.wait()
        start = time.monotonic()
        assert wait_until(lambda: group(pgid) == [], timeout=5)
        assert time.monotonic() - start < 2  # noticed within the 0.5 s poll, ended by TERM
    finally:
        proc.kill()
        proc.wait()


def test_engine_ignoring_sigterm_is_killed_after_the_grace_when_parent_dies():
    proc, pgid = _parent(STUBBORN, 'time.sleep(1000)', grace=1)
    try:
        assert wait_until(lambda: len(group(pgid)) == 2, timeout=10)
        time.sleep(0.3)  # let the engine install its SIGTERM handler
        proc.kill()
        proc.wait()
        start = time.monotonic()
        assert wait_until(lambda: group(pgid) == [], timeout=5)
        assert 0.9 < time.monotonic() - start < 3
    finally:
        proc.kill()
        proc.wait()


def test_normal_exit_stops_running_jobs():
    proc, pgid = _parent(SLEEPER, 'time.sleep(0.5)')
    assert proc.wait(timeout=15) == 0
    assert group(pgid) == []  # atexit stopped the job before the interpreter ended
