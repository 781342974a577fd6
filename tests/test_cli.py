"""The console script, run as a user would run it."""
import json
import os
import shutil
import subprocess
import sys

import lazyllm

LAZYLLM = shutil.which('lazyllm', path=os.path.dirname(sys.executable)) or 'lazyllm'


def run(*args, env=None):
    return subprocess.run([LAZYLLM, *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})


def test_version_and_help():
    out = run('--version')
    assert out.returncode == 0 and out.stdout.strip() == f'lazyllm {lazyllm.__version__}'
    out = run('--help')
    assert out.returncode == 0 and 'config' in out.stdout and 'usage: lazyllm' in out.stdout
    assert run().returncode == 0


def test_config_show_reports_sources_and_masks(tmp_path):
    out = run('config', 'show', '--json',
              env={'LAZYLLM_HOME': str(tmp_path), 'LAZYLLM_TIMEOUT': '12'})
    assert out.returncode == 0, out.stderr
    rows = {r['name']: r for r in json.loads(out.stdout)}
    assert rows['timeout'] == {'name': 'timeout', 'value': '12.0', 'source': 'LAZYLLM_TIMEOUT'}
    table = run('config', 'show', env={'LAZYLLM_HOME': str(tmp_path)}).stdout
    assert table.splitlines()[0].split() == ['NAME', 'VALUE', 'SOURCE']


def test_lazyllm_errors_exit_1_without_traceback(tmp_path):
    out = run('config', 'show', env={'LAZYLLM_HOME': str(tmp_path), 'LAZYLLM_TIMEOUT': 'x'})
    assert out.returncode == 1
    assert out.stderr.startswith('Error: LAZYLLM_TIMEOUT sets timeout')
    assert 'Traceback' not in out.stderr


def test_bad_usage_exits_2():
    assert run('no-such-command').returncode == 2


# -- output to a reader that goes away (issue 17: `lazyllm ps --json | head` ended in a traceback)
def _home_with_many_rows(home):
    """A registry with enough stopped rows, and a log long enough, that the output of `ps`
    and `logs` overflows a pipe (64 KiB): the command is still writing when the reader
    leaves. Stopped rows are listed without any probe, so nothing here needs an engine."""
    import time

    from lazyllm.registry import Registry
    from lazyllm.registry._store import Record
    done = subprocess.Popen([sys.executable, '-c', '']).pid   # a job id for the log row
    log = home / 'engine.log'
    log.write_text(''.join(f'line {i} {"x" * 80}\n' for i in range(4000)))
    reg = Registry(home / 'registry.db')
    for i in range(1000):
        reg.put(Record(name=f'dep-{i}', model='/models/m', engine='transformers',
                       url=f'http://127.0.0.1:{10000 + i}/v1/', status='stopped',
                       created=time.time(), **({'pid': done, 'log_path': str(log)} if i == 0
                                                else {})))
    return {**os.environ, 'LAZYLLM_HOME': str(home)}


PIPED = [('ps', '--all', '--json'), ('ps', '--all'), ('logs', 'dep-0', '-n', '4000'),
         ('--help',)]


def test_output_to_a_reader_that_leaves_ends_quietly(tmp_path):
    """The reader takes one line and closes: exit 0, nothing on stderr (see cli._reader_gone
    for why 0 rather than SIGPIPE's 141)."""
    env = _home_with_many_rows(tmp_path)
    for args in PIPED:
        proc = subprocess.Popen([LAZYLLM, *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env)
        first = proc.stdout.readline()
        proc.stdout.close()
        err = proc.stderr.read().decode()
        proc.stderr.close()
        assert proc.wait(timeout=60) == 0, (args, err)
        assert first and err == '', (args, err)


def test_output_to_a_reader_gone_before_the_first_write(tmp_path):
    """The pipe is closed before the command writes at all: its first write fails."""
    env = _home_with_many_rows(tmp_path)
    for args in PIPED:
        read, write = os.pipe()
        os.close(read)
        try:
            out = subprocess.run([LAZYLLM, *args], stdout=write, stderr=subprocess.PIPE,
                                 env=env, timeout=60)
        finally:
            os.close(write)
        assert out.returncode == 0 and out.stderr == b'', (args, out.stderr.decode())


def test_shell_pipeline_with_pipefail_succeeds(tmp_path):
    bash = shutil.which('bash')
    head = shutil.which('head')
    if not (bash and head):
        import pytest
        pytest.skip('needs bash and head to build a shell pipeline')
    env = _home_with_many_rows(tmp_path)
    out = subprocess.run([bash, '-o', 'pipefail', '-c', f'"{LAZYLLM}" ps --all --json | head -1'],
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0 and out.stdout == '[\n' and out.stderr == '', out.stderr
