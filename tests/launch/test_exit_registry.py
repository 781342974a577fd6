"""At interpreter exit one registry stops every job the interpreter launched: the jobs are
all asked to end first, so they end in parallel, each within its grace; a forked child that
exits leaves its parent's jobs running."""
import subprocess
import sys
import time

from tests.support.procs import group, wait_until

STUBBORN = [sys.executable, '-c', 'import signal, time; '
            'signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(1000)']
SLEEPER = [sys.executable, '-c', 'import time; time.sleep(1000)']

TWO_STUBBORN = f'''
import time
from lazyllm.launch import LocalLauncher
jobs = [LocalLauncher(grace=1.5).launch({STUBBORN!r}, name=f'stubborn{{i}}') for i in (1, 2)]
print(*[job.pid for job in jobs], flush=True)
time.sleep(0.5)         # both engines have installed their SIGTERM handler
print('exiting', flush=True)
'''

FORK = f'''
import os, sys
from lazyllm.launch import LocalLauncher
job = LocalLauncher(grace=2).launch({SLEEPER!r}, name='parents')
print(job.pid, flush=True)
child = os.fork()
if child == 0:
    sys.exit(0)         # a normal exit of the child: its atexit handlers run
os.waitpid(child, 0)
print(job.status, flush=True)
'''


def _run(code):
    return subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE, text=True)


def test_jobs_end_in_parallel_at_exit_each_within_its_grace():
    proc = _run(TWO_STUBBORN)
    pgids = [int(p) for p in proc.stdout.readline().split()]
    try:
        assert proc.stdout.readline().strip() == 'exiting'
        start = time.monotonic()
        assert proc.wait(timeout=30) == 0
        took = time.monotonic() - start
        assert all(group(pgid) == [] for pgid in pgids)
        assert 1.3 < took < 2.9, took      # one grace of 1.5 s, not one per job
    finally:
        proc.kill()
        proc.wait()


def test_a_forked_child_leaves_its_parents_jobs_running():
    proc = _run(FORK)
    pgid = int(proc.stdout.readline())
    try:
        assert proc.stdout.readline().strip() == 'running'
        assert proc.wait(timeout=30) == 0
        assert wait_until(lambda: group(pgid) == [], timeout=5)   # the parent's exit ended it
    finally:
        proc.kill()
        proc.wait()
