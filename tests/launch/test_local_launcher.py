"""The local launcher on real processes: run, output, exit status, stop of a whole tree."""
import os
import re
import signal
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from lazyllm.launch import port_is_free
from tests.support.procs import SEGFAULT, group, wait_until

PY = sys.executable


def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status
    except OSError:
        return None


def test_http_server_reachable_logged_and_stopped(launcher, jobs, lazyllm_home):
    port = launcher.allocate_port()
    job = launcher.launch([PY, '-m', 'http.server', '--bind', launcher.host, str(port)],
                          name='files')
    jobs.append(job)
    assert job.host == '127.0.0.1' and job.status == 'running' and job.returncode is None
    assert wait_until(lambda: _get(f'http://{job.host}:{port}/') == 200, timeout=10)
    assert wait_until(lambda: 'GET / HTTP' in job.logs(), timeout=5)
    assert f'port {port}' in job.logs()
    assert job.log_path.parent == lazyllm_home / 'logs'
    assert re.fullmatch(rf'files-\d{{8}}-\d{{6}}-{job.pid}\.log', job.log_path.name)
    members = group(job.pid)
    assert len(members) == 2  # the watchdog and the server

    assert job.stop() == 'stopped'
    assert port_is_free(port)
    assert group(job.pid) == []
    assert job.stop() == 'stopped' and job.status == 'stopped'  # idempotent
    assert job.returncode is not None


def test_exit_codes_and_output(launcher, jobs):
    ok = launcher.launch([PY, '-c', 'print("all good")'], name='ok')
    bad = launcher.launch([PY, '-c', 'import sys; print("oops", file=sys.stderr); sys.exit(3)'])
    crash = launcher.launch([PY, '-c', SEGFAULT])
    jobs += [ok, bad, crash]
    assert ok.wait(10) == 'exited' and ok.returncode == 0
    assert bad.wait(10) == 'failed' and bad.returncode == 3
    assert crash.wait(10) == 'failed' and crash.returncode == -signal.SIGSEGV
    assert (ok.exit_text, bad.exit_text) == ('exit code 0', 'exit code 3')
    assert crash.exit_text == 'exit code -11: killed by SIGSEGV, a crash in its native code'
    assert ok.logs() == 'all good'
    assert bad.logs() == 'oops'
    assert bad.name == os.path.basename(PY)  # the default name: the program's
    assert ok.stop() == 'exited'  # stopping an ended job changes nothing


def test_wait_with_timeout_returns_running(launcher, jobs):
    job = launcher.launch(['sleep', '1000'])
    jobs.append(job)
    start = time.monotonic()
    assert job.wait(0.3) == 'running'
    assert job.exit_text == ''                # nothing to say while it runs
    assert 0.25 < time.monotonic() - start < 2


def test_stop_kills_grandchildren(launcher, jobs):
    job = launcher.launch(['sh', '-c', 'sleep 1000 & sleep 1000 & wait'], name='tree')
    jobs.append(job)
    assert wait_until(lambda: len(group(job.pid)) == 4)  # watchdog, sh, two sleeps
    start = time.monotonic()
    assert job.stop() == 'stopped'
    assert time.monotonic() - start < 2
    assert group(job.pid) == []


def test_engine_ignoring_sigterm_is_killed_after_grace(launcher, jobs):
    code = ('import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); '
            'print("ready", flush=True); time.sleep(1000)')
    job = launcher.launch([PY, '-c', code], name='stubborn')
    jobs.append(job)
    assert wait_until(lambda: 'ready' in job.logs())
    start = time.monotonic()
    assert job.stop(timeout=1) == 'stopped'
    assert 0.9 < time.monotonic() - start < 3
    assert group(job.pid) == []


def test_leftovers_of_an_engine_that_exits_are_ended(launcher, jobs):
    job = launcher.launch(['sh', '-c', 'sleep 1000 & echo started'], name='leaky')
    jobs.append(job)
    assert job.wait(10) == 'exited'
    assert job.logs() == 'started'
    assert group(job.pid) == []


def test_env_is_merged_over_os_environ(launcher, jobs, monkeypatch):
    monkeypatch.setenv('LAZYLLM_TEST_KEPT', 'kept')
    monkeypatch.setenv('LAZYLLM_TEST_GONE', 'gone')
    job = launcher.launch(
        ['sh', '-c', 'echo "$LAZYLLM_TEST_KEPT $LAZYLLM_TEST_NEW ${LAZYLLM_TEST_GONE-unset}"'],
        env={'LAZYLLM_TEST_NEW': 'new', 'LAZYLLM_TEST_GONE': None})
    jobs.append(job)
    assert job.wait(10) == 'exited'
    assert job.logs() == 'kept new unset'


def test_logs_tail_of_long_output(launcher, jobs):
    job = launcher.launch([PY, '-c', 'for i in range(200000): print("line", i)'])
    jobs.append(job)
    assert job.wait(20) == 'exited'
    assert job.logs(3) == 'line 199997\nline 199998\nline 199999'
    assert job.logs().count('\n') == 49
    assert job.logs(0) == ''


def test_job_is_a_context_manager_and_resources_are_accepted(launcher):
    with launcher.launch(['sleep', '1000'], resources={'gpus': 1, 'partition': 'p',
                                                       'cpus': 2}) as job:
        assert job.status == 'running'
    assert job.status == 'stopped' and group(job.pid) == []
    assert 'LocalJob sleep' in repr(job)


def test_watchdog_killed_outright_leaves_no_engine(launcher, jobs):
    job = launcher.launch(['sleep', '1000'])
    jobs.append(job)
    assert wait_until(lambda: len(group(job.pid)) == 2)
    os.kill(job.pid, signal.SIGKILL)
    assert wait_until(lambda: job.status == 'failed')
    assert job.returncode == -signal.SIGKILL
    assert group(job.pid) == []


def test_wait_blocks_until_exit_and_stop_from_another_thread(launcher, jobs):
    quick = launcher.launch([PY, '-c', 'import time; time.sleep(0.3)'])
    slow = launcher.launch(['sleep', '1000'])
    jobs += [quick, slow]
    assert quick.wait() == 'exited'
    stopper = threading.Timer(0.3, slow.stop)
    stopper.start()
    assert slow.wait() == 'stopped'
    stopper.join()


def test_engine_outlives_the_thread_that_launched_it(launcher, jobs):
    with ThreadPoolExecutor(1) as pool:
        job = pool.submit(launcher.launch, ['sleep', '1000']).result()
    jobs.append(job)  # the pool's thread has ended; the engine must not have
    time.sleep(1)
    assert job.status == 'running' and len(group(job.pid)) == 2
