"""The watchdog run directly: it mirrors the engine's result, forwards stop signals, ends
the engine when the process it watches dies, and imports only the standard library."""
import ast
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from lazyllm.launch import _watchdog
from tests.support.procs import group, wait_until

WATCHDOG = [sys.executable, '-I', '-S', _watchdog.__file__]


def _run(parent, *cmd, **kw):
    return subprocess.Popen([*WATCHDOG, '--parent', str(parent), '--grace', '1', '--', *cmd],
                            stderr=subprocess.PIPE, text=True, start_new_session=True, **kw)


def test_exit_code_and_signal_of_the_engine_are_mirrored():
    assert _run(os.getpid(), 'sh', '-c', 'exit 7').wait(10) == 7
    assert _run(os.getpid(), 'sh', '-c', 'kill -USR1 $$').wait(10) == -signal.SIGUSR1


def test_sigterm_is_forwarded_and_the_group_ended():
    w = _run(os.getpid(), 'sh', '-c', 'sleep 1000 & wait')
    assert wait_until(lambda: len(group(w.pid)) == 3)
    w.send_signal(signal.SIGTERM)
    assert w.wait(5) == -signal.SIGTERM  # sh died of the forwarded SIGTERM
    assert group(w.pid) == []


def test_engine_ends_when_a_watched_non_parent_process_dies():
    watched = subprocess.Popen(['sleep', '1000'])
    w = _run(watched.pid, 'sleep', '1000')
    try:
        assert wait_until(lambda: len(group(w.pid)) == 2)
        watched.kill()
        watched.wait()
        w.wait(5)
        assert f'parent process {watched.pid} is gone' in w.stderr.read()
        assert group(w.pid) == []
    finally:
        watched.kill()
        w.kill()


def test_bad_usage_and_missing_program():
    w = _run(os.getpid(), 'no-such-program-lazyllm')
    assert w.wait(10) == 127
    assert "cannot start 'no-such-program-lazyllm'" in w.stderr.read()
    bad = subprocess.run([*WATCHDOG, '--parent', '1'], capture_output=True, text=True)
    assert bad.returncode == 2 and 'after --' in bad.stderr


def test_imports_only_the_standard_library():
    tree = ast.parse(Path(_watchdog.__file__).read_text())
    names = {a.name.split('.')[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
             for a in n.names}
    names |= {n.module.split('.')[0] for n in ast.walk(tree)
              if isinstance(n, ast.ImportFrom) and n.level == 0}
    assert names <= set(sys.stdlib_module_names) | {'__future__'}, names


def test_starts_fast():
    start = time.monotonic()
    assert _run(os.getpid(), 'true').wait(10) == 0
    assert time.monotonic() - start < 2
