"""The conventions every ``lazyllm`` command follows (docs/cli.md): exit codes 0/1/2, a bad
flag reported with the command's own usage, ``--json`` for every table or result, and
``--version``. Run as a user runs them: the console script in a subprocess, with an isolated
LAZYLLM_HOME; nothing here needs an engine (see test_deploy_cli.py for those)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

import lazyllm
from lazyllm._names import article
from lazyllm.cli import COMMANDS, build_parser
from lazyllm.cli._tree import nodes


def cli(home, *args, env=None):
    return subprocess.run([sys.executable, '-m', 'lazyllm', *map(str, args)],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, 'LAZYLLM_HOME': str(home), **(env or {})})


def stopped_row(home, name='old'):
    """A registry row of a stopped deployment: something for ps/stop/logs to find."""
    from lazyllm.registry import Registry
    from lazyllm.registry._store import Record
    Registry(home / 'registry.db').put(Record(name=name, model='/models/m', engine='embedding',
                                              status='stopped', created=time.time()))


# every command, with a bad flag (2), a well-formed call that fails (1), and one that works (0)
USAGE = {
    'config': ['config', 'show', '--bogus'], 'models': ['models', '--bogus'],
    'deploy': ['deploy', 'm', '--bogus'], 'pull': ['pull', 'm', '--bogus'],
    'ps': ['ps', '--bogus'], 'stop': ['stop', 'x', '--bogus'], 'logs': ['logs', 'x', '--bogus'],
    'chat': ['chat', 'x', '--bogus'], 'completion': ['completion', 'bash', '--bogus'],
    'plan': ['plan', 'm', '--bogus'], 'serve': ['serve', '--bogus'],
    'variants': ['variants', '--bogus'],
}
FAILS = {
    'config': (['config', 'show'], {'LAZYLLM_TIMEOUT': 'soon'}),
    'models': (['models'], {'LAZYLLM_CATALOG': '/no/such/catalog.json'}),
    'deploy': (['deploy', '/no/such/model'], {}),
    'pull': (['pull', '/no/such/model'], {}),
    'ps': (['ps'], {'LAZYLLM_HOME': '/dev/null/home'}),
    'stop': (['stop', 'nope'], {}), 'logs': (['logs', 'nope'], {}),
    'chat': (['chat', 'nope'], {}),
    'plan': (['plan', '/no/such/model'], {}),
    'serve': (['serve', '--api-key-file', '/no/such/keys.txt'], {}),    # before it listens
    'variants': (['variants', 'remove', 'nope'], {}),
}
WORKS = {
    'config': ['config', 'path'], 'models': ['models'], 'ps': ['ps', '--all'],
    'stop': ['stop', 'old'], 'completion': ['completion', 'fish'], 'variants': ['variants'],
}


def test_every_command_is_covered():
    assert set(USAGE) == set(COMMANDS)
    assert set(FAILS) | {'completion'} == set(COMMANDS)   # completion cannot fail but by usage


@pytest.mark.parametrize('command', sorted(USAGE))
def test_a_bad_flag_exits_2_with_the_commands_own_usage(tmp_path, command):
    out = cli(tmp_path, *USAGE[command])
    assert out.returncode == 2, out.stderr
    prog = 'lazyllm config show' if command == 'config' else f'lazyllm {command}'
    assert out.stderr.startswith(f'usage: {prog} '), out.stderr
    assert f'{prog}: error: unrecognized arguments: --bogus' in out.stderr
    assert out.stdout == '' and 'Traceback' not in out.stderr


@pytest.mark.parametrize('command', sorted(FAILS))
def test_a_failure_exits_1_with_an_error_line(tmp_path, command):
    args, env = FAILS[command]
    out = cli(tmp_path, *args, env=env)
    assert out.returncode == 1, (out.stdout, out.stderr)
    assert out.stderr.startswith('Error: ') and 'Traceback' not in out.stderr, out.stderr


@pytest.mark.parametrize('command', sorted(WORKS))
def test_success_exits_0(tmp_path, command):
    stopped_row(tmp_path)
    out = cli(tmp_path, *WORKS[command])
    assert out.returncode == 0 and out.stdout, out.stderr


def test_usage_rules_beyond_argparse_exit_2(tmp_path):
    """Rules a command checks itself are usage errors too, found before anything runs."""
    models = tmp_path / 'models.yaml'
    models.write_text('m:\n  model: /models/m\n')
    for args, said in ((['stop'], 'name the deployments to stop'),
                       (['logs', 'x', '-n', '-1'], '-n must be >= 0'),
                       (['deploy', 'm', '--config-id', 'a'], '--config-id needs --config'),
                       (['deploy', '--config', models, 'm', '--port', '1', '--detach'],
                        '--port cannot be combined with --config'),
                       (['config'], 'required: ACTION'), (['--bogus', 'ps'], 'unrecognized')):
        out = cli(tmp_path, *args)
        assert out.returncode == 2 and said in out.stderr, (args, out.stderr)
        assert out.stderr.startswith('usage: lazyllm ')
    assert not (tmp_path / 'logs').exists()       # the detached deploy never started
    top = cli(tmp_path, '--bogus', 'ps').stderr   # a top-level flag: the top-level usage
    assert top.startswith('usage: lazyllm [-h]'), top


def test_main_returns_codes_instead_of_exiting(capsys):
    from lazyllm.cli import main
    assert main(['ps', '--bogus']) == 2
    assert main(['--help']) == 0
    assert 'usage: lazyllm ps' in capsys.readouterr().err


JSON = {('models',), ('models', 'pull'), ('models', 'convert'), ('deploy',), ('pull',), ('ps',),
        ('stop',), ('chat',), ('config', 'show'), ('config', 'path'), ('plan',), ('variants',)}
NO_JSON = {('logs',): "the engine's own log text", ('completion',): 'a shell script',
           ('config',): 'only ACTIONs below it', ('serve',): 'a server: it runs until stopped',
           ('variants', 'remove'): 'nothing to print: it removes'}


def test_every_command_with_a_table_or_result_has_json():
    """A new command must be placed in one of the two sets: a table or a result has --json."""
    tree = {n.path: {f for o in n.options for f in o.flags} for n in nodes(build_parser())}
    del tree[()]
    assert set(tree) == JSON | set(NO_JSON)
    for path, flags in tree.items():
        assert ('--json' in flags) == (path in JSON), path


def test_json_outputs(tmp_path, minilm_path):
    stopped_row(tmp_path)
    models = json.loads(cli(tmp_path, 'models', '--json', '--type', 'embed').stdout)
    assert models and {m['type'] for m in models} == {'embed'}
    assert set(models[0]) == {'name', 'type', 'params', 'context', 'format', 'hf', 'ms'}
    table = cli(tmp_path, 'models', '--type', 'embed').stdout.splitlines()
    assert [line.split()[0] for line in table[1:]] == [m['name'] for m in models]
    for args in (['models', 'pull'], ['pull']):
        out = cli(tmp_path, *args, minilm_path, '--json')
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout) == {'name': str(minilm_path), 'path': str(minilm_path)}
        assert cli(tmp_path, *args, minilm_path).stdout.strip() == str(minilm_path)
    assert json.loads(cli(tmp_path, 'stop', 'old', '--json').stdout) == [
        {'name': 'old', 'stopped': False, 'status': 'stopped'}]
    path = json.loads(cli(tmp_path, 'config', 'path', '--json').stdout)
    assert path == {'path': str(tmp_path / 'config.yaml'), 'exists': False}
    names = [r['name'] for r in json.loads(cli(tmp_path, 'ps', '--all', '--json').stdout)]
    assert names == ['old']


def test_version_prints_the_version_and_any_name_clash(tmp_path):
    out = cli(tmp_path, '--version')
    assert out.returncode == 0 and out.stdout == f'lazyllm {lazyllm.__version__}\n'
    from lazyllm.cli import _clash_report
    clash = _clash_report()          # None unless the PyPI LazyLLM shares our package folder
    assert out.stderr == (f'Warning: {clash}\n' if clash else '')


def test_version_shows_the_clash_report_on_stderr(tmp_path):
    """With a report (a clash found), it goes to stderr: stdout stays the version alone."""
    code = ("import sys, types\n"
            "try:\n    import lazyllm._clash as m\n"
            "except ModuleNotFoundError:\n"
            "    m = sys.modules['lazyllm._clash'] = types.ModuleType('lazyllm._clash')\n"
            "m.report = lambda: 'files of LazyLLM are in this folder'\n"
            "from lazyllm.cli import main\nsys.exit(main(['--version']))\n")
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0 and out.stdout == f'lazyllm {lazyllm.__version__}\n'
    assert out.stderr == 'Warning: files of LazyLLM are in this folder\n'


def test_articles():
    assert [f'{article(k)} {k}' for k in ('llm', 'vlm', 'embed', 'rerank', 'stt', 'tts', 'sd',
                                          'classify')] == \
        ['an llm', 'a vlm', 'an embed', 'a rerank', 'an stt', 'a tts', 'an sd', 'a classify']
