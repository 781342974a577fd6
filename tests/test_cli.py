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
