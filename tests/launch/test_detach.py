"""Detached local jobs outlive the interpreter that launched them, even one killed with
SIGKILL, and another process controls them through ``LocalJob.attach``."""
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from lazyllm.errors import InputError
from lazyllm.launch import LocalJob
from lazyllm.launch._local import pid_alive
from tests.support.procs import alive, group, wait_until

ENGINE = [sys.executable, '-c', 'import time; print("engine up", flush=True); time.sleep(600)']
STUBBORN = [sys.executable, '-c', 'import signal, time; '
            'signal.signal(signal.SIGTERM, signal.SIG_IGN); print("engine up", flush=True); '
            'time.sleep(600)']
LAUNCH = '''
import time
from lazyllm.launch import LocalLauncher
job = LocalLauncher(grace={grace}).launch({argv!r}, name='detached', detach={detach})
print(job.pid, job.log_path, flush=True)
{then}
'''


def _launch_from_child(argv=ENGINE, *, detach=True, then='', grace=2):
    """A child interpreter launches ``argv``; returns the child and the job's pid and log."""
    code = LAUNCH.format(grace=grace, argv=argv, detach=detach, then=then)
    proc = subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE, text=True)
    pid, log_path = proc.stdout.readline().split(maxsplit=1)
    return proc, int(pid), Path(log_path.strip())


def _kill(pgid):
    """Test cleanup: whatever is left of group ``pgid`` dies."""
    if group(pgid):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        wait_until(lambda: group(pgid) == [], timeout=5)


def _dead_pid():
    """The pid of a process that has ended and been reaped."""
    proc = subprocess.Popen(['true'])
    proc.wait()
    return proc.pid


@pytest.mark.parametrize('end_child', ['exit', 'sigkill'])
def test_detached_job_outlives_its_launcher_and_is_stopped_through_attach(end_child):
    then = '' if end_child == 'exit' else 'time.sleep(600)'
    proc, pgid, log_path = _launch_from_child(then=then)
    try:
        assert wait_until(lambda: len(group(pgid)) == 2, timeout=10)  # watchdog + engine
        if end_child == 'sigkill':
            proc.kill()
        proc.wait(timeout=15)
        time.sleep(1.2)  # more than two of the watchdog's 0.5 s checks of a parent
        assert len(group(pgid)) == 2

        job = LocalJob.attach(pgid, log_path=log_path, name='detached', argv=ENGINE)
        assert job.status == 'running' and job.attached and pid_alive(pgid)
        assert job.pid == pgid and job.job_id == str(pgid) and job.returncode is None
        assert wait_until(lambda: 'engine up' in job.logs(), timeout=10)
        assert job.wait(0.2) == 'running'

        start = time.monotonic()
        assert job.stop(timeout=5) == 'stopped'
        assert time.monotonic() - start < 3
        assert group(pgid) == [] and not pid_alive(pgid)
        assert job.status == 'stopped' and job.stop() == 'stopped'  # idempotent
        assert job.wait() == 'stopped' and job.returncode is None
    finally:
        proc.kill()
        proc.wait()
        _kill(pgid)


def test_non_detached_job_still_dies_with_its_killed_launcher():
    proc, pgid, _ = _launch_from_child(detach=False, then='time.sleep(600)')
    try:
        assert wait_until(lambda: len(group(pgid)) == 2, timeout=10)
        proc.kill()
        proc.wait()
        assert wait_until(lambda: group(pgid) == [], timeout=5)
    finally:
        proc.kill()
        proc.wait()
        _kill(pgid)


def test_stop_of_an_attached_stubborn_job_kills_after_the_timeout():
    proc, pgid, log_path = _launch_from_child(STUBBORN, grace=60)
    try:
        proc.wait(timeout=15)
        job = LocalJob.attach(pgid, log_path=log_path)
        assert wait_until(lambda: 'engine up' in job.logs(), timeout=10)
        start = time.monotonic()
        assert job.stop(timeout=1) == 'stopped'  # the watchdog's grace (60 s) is not awaited
        assert 0.9 < time.monotonic() - start < 4
        assert group(pgid) == []
    finally:
        _kill(pgid)


def test_attached_job_that_ends_by_itself_is_exited():
    code = [sys.executable, '-c', 'import time; time.sleep(1.5)']
    proc, pgid, log_path = _launch_from_child(code)
    try:
        proc.wait(timeout=15)
        job = LocalJob.attach(pgid, log_path=log_path)
        assert job.status == 'running'
        assert job.wait(15) == 'exited' and job.returncode is None
        assert job.stop() == 'exited'  # nothing to stop: no signal, status kept
    finally:
        _kill(pgid)


def test_wait_of_an_attached_job_returns_when_another_thread_stops_it():
    proc, pgid, log_path = _launch_from_child()
    try:
        proc.wait(timeout=15)
        job = LocalJob.attach(pgid, log_path=log_path)
        stopper = threading.Timer(0.3, job.stop)
        stopper.start()
        assert job.wait() == 'stopped'
        stopper.join()
        assert group(pgid) == []
    finally:
        _kill(pgid)


def test_attach_to_a_pid_that_does_not_run():
    pid = _dead_pid()
    job = LocalJob.attach(pid, log_path='/nonexistent/lazyllm-test.log')
    assert job.status == 'exited' and not pid_alive(pid)
    assert job.stop() == 'exited' and job.status == 'exited'  # a no-op
    assert job.wait() == 'exited' and job.logs() == ''


def test_attach_never_signals_a_stranger_with_the_pid():
    # a group leader that is not a lazyllm watchdog, as after a reboot reused the pid
    stranger = subprocess.Popen(['sleep', '600'], start_new_session=True)
    try:
        # until exec completes, the child's command line is empty or pytest's: wait for it
        assert wait_until(lambda: Path(f'/proc/{stranger.pid}/cmdline').read_bytes()
                          .startswith(b'sleep'), timeout=5)
        job = LocalJob.attach(stranger.pid, log_path='/nonexistent/lazyllm-test.log')
        assert not pid_alive(stranger.pid)
        assert job.status == 'exited'
        assert job.stop(timeout=0.5) == 'exited'
        time.sleep(0.2)
        assert alive(stranger.pid)
    finally:
        stranger.kill()
        stranger.wait()


def test_attach_validates_its_arguments():
    for bad in (0, -1, True, '123', None):
        with pytest.raises(InputError, match='pid must be'):
            LocalJob.attach(bad, log_path='x.log')
    assert not pid_alive(0) and not pid_alive(-1)


def test_detached_job_of_this_interpreter_is_not_stopped_at_exit(launcher, jobs):
    from lazyllm.launch import _base
    job = launcher.launch(ENGINE, name='mine', detach=True)
    jobs.append(job)
    assert job not in _base._exit_jobs  # the atexit handler will skip it
    assert wait_until(lambda: 'engine up' in job.logs(), timeout=10)
    cmd = Path(f'/proc/{job.pid}/cmdline').read_bytes().split(b'\0')
    assert cmd[cmd.index(b'--parent') + 1] == b'0'  # the watchdog watches no parent
    assert job.status == 'running' and not job.attached
    assert job.stop() == 'stopped' and group(job.pid) == []


def test_detach_must_be_a_bool(launcher):
    with pytest.raises(InputError, match='detach must be True or False'):
        launcher.launch(ENGINE, detach='yes')
