"""``lazyllm deploy / ps / stop / logs / chat``, run as a user runs them: real subprocesses,
real engines, an isolated LAZYLLM_HOME. The parsing and formatting parts are tested directly."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass

import pytest

from lazyllm.cli import build_parser
from lazyllm.cli._deploy_cmd import default_name, parse_option
from lazyllm.cli._ps_cmd import as_dict, print_table, row, uptime
from tests.support.procs import alive, wait_until

DEPLOY_TIMEOUT = 240


def lazyllm_cli(env, *args, input=None, timeout=DEPLOY_TIMEOUT):
    return subprocess.run([sys.executable, '-m', 'lazyllm', *map(str, args)], input=input,
                          capture_output=True, text=True, env=env, timeout=timeout)


# -- parsing and formatting --------------------------------------------------------------------
def test_option_values_are_json_when_they_parse():
    assert parse_option('max_batch=8') == ('max_batch', 8)
    assert parse_option('enforce_eager=true') == ('enforce_eager', True)
    assert parse_option('dtype=float16') == ('dtype', 'float16')
    assert parse_option('stop=["a", "b"]') == ('stop', ['a', 'b'])
    assert parse_option('chat_template=a=b') == ('chat_template', 'a=b')
    assert parse_option('empty=') == ('empty', '')
    for bad in ('max_batch', '=8'):
        with pytest.raises(argparse.ArgumentTypeError, match='KEY=VALUE'):
            parse_option(bad)


def test_deploy_arguments_and_default_name():
    args = build_parser().parse_args(['deploy', '/m/SmolLM2/', '-o', 'max_batch=8',
                                      '--option', 'x=y', '--port', '9000'])
    assert (args.model, args.engine, args.port, args.detach) == ('/m/SmolLM2/', 'auto', 9000,
                                                                 False)
    assert dict(args.options) == {'max_batch': 8, 'x': 'y'}
    assert default_name('/m/SmolLM2/') == 'SmolLM2'
    assert default_name('/m/smol.Q4_1.gguf') == 'smol.Q4_1'      # a GGUF file: no suffix
    assert default_name('HuggingFaceTB/SmolLM2-135M-Instruct') == 'SmolLM2-135M-Instruct'


def test_uptime_is_human_readable():
    assert [uptime(s) for s in (None, -1, 0, 42, 192, 3600 + 300, 3 * 86400 + 4 * 3600)] == \
        ['-', '-', '0s', '42s', '3m12s', '1h05m', '3d04h']


@dataclass
class Rec:
    name: str
    model: str
    type: str
    engine: str
    url: str
    pid: int | None
    status: str
    created: float
    job_id: str = ''
    launcher: str = 'local'


def test_table_layout(capsys):
    now = time.time()
    recs = [Rec('t1', '/m/tiny', 'llm', 'transformers', 'http://127.0.0.1:8000', 42, 'running',
                now - 192),
            Rec('embedding-model', '/m/minilm', 'embed', 'embedding', '', None, 'stopped', now)]
    print_table(('NAME', 'MODEL', 'TYPE', 'ENGINE', 'URL', 'JOB', 'STATUS', 'UPTIME'),
                [row(r, now) for r in recs])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ['NAME', 'MODEL', 'TYPE', 'ENGINE', 'URL', 'JOB', 'STATUS',
                                'UPTIME']
    assert lines[1].split() == ['t1', '/m/tiny', 'llm', 'transformers', 'http://127.0.0.1:8000',
                                'local:42', 'running', '3m12s']
    assert lines[2].split() == ['embedding-model', '/m/minilm', 'embed', 'embedding', '-', '-',
                                'stopped', '-']
    assert lines[1].index('/m/tiny') == lines[0].index('MODEL')   # columns line up
    assert as_dict(recs[0])['pid'] == 42


def test_bad_usage_exits_2_and_help_has_examples(tmp_path):
    env = {**os.environ, 'LAZYLLM_HOME': str(tmp_path)}
    for args in (['deploy'], ['deploy', 'm', '--option', 'novalue'], ['deploy', 'm', '--engine',
                 'nope'], ['deploy', 'm', '--port', 'x'], ['logs'], ['chat'],
                 ['logs', 'x', '-n', 'many'], ['ps', '--bogus'], ['stop'],
                 ['logs', 'x', '-n', '-1']):
        out = lazyllm_cli(env, *args)
        assert out.returncode == 2, (args, out.stderr)
        assert f'usage: lazyllm {args[0]} ' in out.stderr and 'Traceback' not in out.stderr
    for command in ('deploy', 'ps', 'stop', 'logs', 'chat', 'pull'):
        out = lazyllm_cli(env, command, '--help')
        assert out.returncode == 0 and f'lazyllm {command} ' in out.stdout.split('examples:')[1]


def test_names_in_an_empty_home_exit_1(tmp_path):
    env = {**os.environ, 'LAZYLLM_HOME': str(tmp_path)}
    for args in (['stop', 'nope'], ['logs', 'nope'], ['chat', 'nope']):
        out = lazyllm_cli(env, *args)
        assert out.returncode == 1 and out.stderr.startswith('Error: '), (args, out.stderr)
        assert 'Traceback' not in out.stderr
    assert 'no deployments yet' in lazyllm_cli(env, 'stop', 'nope').stderr
    out = lazyllm_cli(env, 'ps', '--json')
    assert out.returncode == 0 and json.loads(out.stdout) == []
    assert lazyllm_cli(env, 'ps').stdout.split() == ['NAME', 'MODEL', 'TYPE', 'ENGINE', 'URL',
                                                     'JOB', 'STATUS', 'UPTIME']


# -- end to end ------------------------------------------------------------------------------
@pytest.fixture(scope='module')
def env(tmp_path_factory):
    """A home of its own; every engine a test started is ended at teardown."""
    env = {**os.environ, 'LAZYLLM_HOME': str(tmp_path_factory.mktemp('cli-home'))}
    yield env
    listed = lazyllm_cli(env, 'ps', '--all', '--json', timeout=60)
    lazyllm_cli(env, 'stop', '--all', timeout=120)
    for rec in json.loads(listed.stdout or '[]'):
        if rec.get('pid') and alive(rec['pid']):
            from lazyllm.launch import LocalJob
            LocalJob.attach(rec['pid'], log_path=rec['log_path']).stop()


def ps(env, *flags):
    out = lazyllm_cli(env, 'ps', '--json', *flags, timeout=60)
    assert out.returncode == 0, out.stderr
    return {r['name']: r for r in json.loads(out.stdout)}


@pytest.fixture(scope='module')
def t1(env, tiny_llm_path):
    out = lazyllm_cli(env, 'deploy', tiny_llm_path, '--name', 't1', '--engine', 'transformers',
                      '--option', 'max_batch=4', '-o', 'log_requests=true')
    assert out.returncode == 0, out.stderr[-3000:]
    return out


def test_deploy_returns_and_the_engine_keeps_running(env, t1):
    name, ready, at, url, job = t1.stdout.strip().splitlines()[-1].split(' ')
    assert (name, ready, at) == ('t1', 'ready', 'at') and url.startswith('http://')
    rec = ps(env)['t1']     # the deploy process has exited; its engine has not
    assert rec['status'] == 'running' and rec['url'] == url and alive(rec['pid'])
    assert job == f'(local:{rec["pid"]})'
    assert rec['options'] == {'max_batch': 4, 'log_requests': True}
    assert rec['engine'] == 'transformers'
    table = lazyllm_cli(env, 'ps').stdout.splitlines()
    assert table[1].split()[0] == 't1' and table[1].split()[-2] == 'running'


def test_deploy_again_attaches_and_json(env, t1):
    pid = ps(env)['t1']['pid']
    out = lazyllm_cli(env, 'deploy', ps(env)['t1']['model'], '--name', 't1', '--engine',
                      'transformers', '--option', 'max_batch=4', '-o', 'log_requests=true',
                      '--json')
    assert out.returncode == 0, out.stderr[-3000:]
    data = json.loads(out.stdout)
    assert set(data) == {'name', 'url', 'model', 'engine', 'pid', 'job', 'replica_of'}
    assert data['pid'] == pid and data['replica_of'] is None
    assert data['job'] == f'local:{pid}'


def requests(env, name):
    """The message lists the engine logged (log_requests=true), oldest first."""
    out = lazyllm_cli(env, 'logs', name, '-n', '1000').stdout
    return [json.loads(line.split(' request /v1/chat/completions ', 1)[1])['messages']
            for line in out.splitlines() if ' request /v1/chat/completions {' in line]


def test_chat_streams_answers_and_keeps_the_history(env, t1):
    before = len(requests(env, 't1'))
    out = lazyllm_cli(env, 'chat', 't1', '--max-tokens', '8', '--temperature', '0.5',
                      input='hello\n\nhow are you\n/clear\nand again\n/exit\nnot sent\n')
    assert out.returncode == 0, out.stderr[-3000:]
    # no prompt when piped: a prompt starts a line (the random model's own text once held
    # a '> ' in the middle of a line)
    assert out.stdout.strip() and not any(line.startswith('> ')
                                          for line in out.stdout.splitlines())
    sent = requests(env, 't1')[before:]
    assert [m[-1]['content'] for m in sent] == ['hello', 'how are you', 'and again']
    assert [m['role'] for m in sent[1]] == ['user', 'assistant', 'user']   # history kept
    assert sent[1][0]['content'] == 'hello' and len(sent[2]) == 1           # /clear
    out = lazyllm_cli(env, 'chat', 't1', '--system', 'Be brief {not a placeholder}.',
                      '--max-tokens', '4', input='hi')      # EOF ends, no trailing newline
    assert out.returncode == 0 and out.stdout.strip(), out.stderr[-3000:]
    assert requests(env, 't1')[-1] == [
        {'role': 'system', 'content': 'Be brief {not a placeholder}.'},
        {'role': 'user', 'content': 'hi'}]


def test_chat_json_prints_one_line_per_answer(env, t1):
    out = lazyllm_cli(env, 'chat', 't1', '--json', '--max-tokens', '4', input='hello\nagain\n')
    assert out.returncode == 0, out.stderr[-3000:]
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [x['prompt'] for x in lines] == ['hello', 'again']
    assert all(isinstance(x['answer'], str) and x['answer'] for x in lines)


def test_logs_prints_the_last_lines(env, t1):
    out = lazyllm_cli(env, 'logs', 't1', '-n', '5')
    assert out.returncode == 0 and 0 < len(out.stdout.splitlines()) <= 5, out.stderr
    follow = subprocess.Popen([sys.executable, '-m', 'lazyllm', 'logs', 't1', '-f', '-n', '1'],
                              env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert follow.stdout.readline()          # follows: still running after the tail
        time.sleep(0.5)
        assert follow.poll() is None
    finally:
        follow.kill()
        follow.wait()


def test_unknown_names_list_the_known_ones(env, t1):
    for args in (['stop', 'nope'], ['logs', 'nope'], ['chat', 'nope'], ['stop', 't1', 'nope']):
        out = lazyllm_cli(env, *args)
        assert out.returncode == 1 and "'nope'" in out.stderr and 't1' in out.stderr, out.stderr
        assert 'Traceback' not in out.stderr
    assert ps(env)['t1']['status'] == 'running'   # `stop t1 nope` stopped nothing


def test_unknown_model_exits_1(env, tmp_path):
    out = lazyllm_cli(env, 'deploy', tmp_path / 'no-such-model', '--name', 'ghost')
    assert out.returncode == 1 and 'does not exist' in out.stderr, out.stderr
    assert 'Traceback' not in out.stderr and 'ghost' not in ps(env, '--all')


def test_detach_returns_at_once(env, tiny_llm_path):
    began = time.monotonic()
    out = lazyllm_cli(env, 'deploy', tiny_llm_path, '--name', 't2', '--detach', timeout=30)
    assert out.returncode == 0, out.stderr
    assert time.monotonic() - began < 15
    assert out.stdout.startswith('t2 starting (lazyllm ps shows when it is ready)')
    assert wait_until(lambda: ps(env).get('t2'), timeout=DEPLOY_TIMEOUT, interval=1), \
        (env['LAZYLLM_HOME'], os.listdir(os.path.join(env['LAZYLLM_HOME'], 'logs')))
    out = lazyllm_cli(env, 'stop', 't2')
    assert out.returncode == 0 and out.stdout.strip() == 'stopped t2', out.stderr


def test_chat_needs_an_llm(env, minilm_path):
    out = lazyllm_cli(env, 'deploy', minilm_path, '--name', 'e1')
    assert out.returncode == 0, out.stderr[-3000:]
    out = lazyllm_cli(env, 'chat', 'e1', input='hello\n')
    assert out.returncode == 1 and 'e1 is an embed deployment: chat needs an llm' in out.stderr, \
        out.stderr
    assert lazyllm_cli(env, 'stop', 'e1').returncode == 0


def test_stop_ends_the_engine(env, t1):
    pid = ps(env)['t1']['pid']
    follow = subprocess.Popen([sys.executable, '-m', 'lazyllm', 'logs', 't1', '-f'], env=env,
                              stdout=subprocess.DEVNULL)
    out = lazyllm_cli(env, 'stop', 't1')
    assert out.returncode == 0 and out.stdout.strip() == 'stopped t1', out.stderr
    try:
        assert follow.wait(timeout=15) == 0          # `logs -f` ends with the engine
    finally:
        follow.kill()
    assert 't1' not in ps(env)
    assert ps(env, '--all')['t1']['status'] == 'stopped'
    assert wait_until(lambda: not alive(pid), timeout=30)
    out = lazyllm_cli(env, 'stop', 't1')            # stopping again says so, and succeeds
    assert out.returncode == 0 and 'not running' in out.stdout
    out = lazyllm_cli(env, 'stop', 't1', '--json')
    assert out.returncode == 0 and json.loads(out.stdout) == [
        {'name': 't1', 'stopped': False, 'status': 'stopped'}]
    out = lazyllm_cli(env, 'chat', 't1', input='hi\n')
    assert out.returncode == 1 and 't1 is stopped: deploy it again' in out.stderr, out.stderr


def test_deploy_an_entry_of_a_models_file(env, tiny_llm_path, tmp_path):
    models = tmp_path / 'models.yaml'
    models.write_text(f'tiny-file:\n  model: {tiny_llm_path}\n  engine: transformers\n'
                      f'  dtype: float32\n  max_context_length: 96\n'
                      f'online-one:\n  source: openai\n  model: gpt-4o-mini\n')
    out = lazyllm_cli(env, 'deploy', '--config', models, 'tiny-file', '--json')
    assert out.returncode == 0, out.stderr[-2000:]
    try:
        rec = ps(env)['tiny-file']
        assert rec['engine'] == 'transformers' and rec['status'] == 'running'
        assert rec['options'] == {'dtype': 'float32', 'max_model_len': 96}
        import httpx
        card = httpx.get(rec['url'] + 'models', timeout=10).json()['data'][0]
        assert card['max_model_len'] == 96          # max_context_length reached the engine
    finally:
        lazyllm_cli(env, 'stop', 'tiny-file', timeout=60)
    for args, said, code in (
            (['online-one'], 'online model: there is nothing to deploy', 1),
            (['tiny-file', '--engine', 'vllm'], '--engine cannot be combined', 2),
            (['nope'], "has no entry 'nope'; its entries: online-one, tiny-file", 1)):
        bad = lazyllm_cli(env, 'deploy', '--config', models, *args, timeout=60)
        assert bad.returncode == code and said in bad.stderr, bad.stderr
