"""Engine identity: a process that answers on the engine's port without the launch token
is not taken for the engine (deploy/_identity.py)."""
import sys
import textwrap
from dataclasses import dataclass

import pytest

from lazyllm.deploy import Engine
from lazyllm.deploy._identity import TOKEN_ENV
from lazyllm.errors import DeployError
from lazyllm.hub import ModelType
from lazyllm.module import Deployment

# a stand-in for another local program that grabbed the port: /health says 200, as any
# HTTP server might, but it knows nothing of the launch token
IMPOSTOR = textwrap.dedent('''
    import sys
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header('Content-Type', 'application/json')
            self.end_headers()
            self.wfile.write(b'{"status": "ok"}')

        def log_message(self, *args):
            pass

    HTTPServer((sys.argv[1], int(sys.argv[2])), Handler).serve_forever()
''')


@dataclass(frozen=True, repr=False)
class ImpostorEngine(Engine):
    reports_identity: bool = True      # claims to, but the process it runs does not

    def argv(self, model_dir, *, host, port, served_name, options, python=sys.executable,
             aliases=()):
        return [python, '-c', IMPOSTOR, host, str(port)]


@pytest.fixture
def model_dir(tmp_path):
    (tmp_path / 'config.json').write_text('{}')
    (tmp_path / 'model.safetensors').write_bytes(b'')     # never loaded: the engine is fake
    return tmp_path


def test_a_port_that_answers_without_the_token_is_refused(model_dir):
    engine = ImpostorEngine('impostor', frozenset({ModelType.LLM}))
    dep = Deployment(str(model_dir), type='llm', engine=engine)
    with pytest.raises(DeployError, match='not as the engine lazyllm launched'):
        dep.start()
    assert dep.state == 'failed' and dep.job is None and dep.url is None


def test_the_same_server_is_accepted_from_an_engine_that_reports_no_identity(model_dir):
    engine = ImpostorEngine('plain-http', frozenset({ModelType.LLM}), reports_identity=False)
    dep = Deployment(str(model_dir), type='llm', engine=engine)
    try:
        dep.start()
        assert dep.state == 'running' and dep.token is None
    finally:
        dep.stop()


def test_every_launch_gets_its_own_token(tiny_llm_path):
    """The built-in engine answers with the token of its own launch, which changes at the
    next launch (a stale engine of an earlier launch would be refused)."""
    import httpx
    dep = Deployment(str(tiny_llm_path))
    tokens = []
    for _ in range(2):
        dep.start()
        try:
            health = httpx.get(dep.url.rsplit('/v1/', 1)[0] + '/health', timeout=10)
            tokens.append(health.headers['x-lazyllm-engine-token'])
            assert tokens[-1] == dep.token
        finally:
            dep.stop()
    assert tokens[0] != tokens[1] and TOKEN_ENV


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A registry of its own (every named deployment of the test is stopped at the end)."""
    monkeypatch.setenv('LAZYLLM_HOME', str(tmp_path))
    yield tmp_path


def test_attaching_by_name_requires_the_registered_token(home, tiny_llm_path):
    import stat

    import lazyllm
    from lazyllm.registry import Registry
    owner = lazyllm.TrainableModule(str(tiny_llm_path)).start(name='tok')
    try:
        reg = Registry()
        rec = reg.get('tok')
        assert rec.token == owner.deployment.token and len(rec.token) >= 16
        assert 'token' not in repr(rec) and rec.token not in repr(rec)
        assert stat.S_IMODE(reg.path.stat().st_mode) == 0o600
        # the same engine, found by name: attached (its token matches)
        again = lazyllm.TrainableModule(str(tiny_llm_path)).start(name='tok')
        assert again.deployment.url == owner.deployment.url
        again.stop()
        # the row's URL now answered by something that is not that engine (a stale or
        # tampered row): attaching is refused, nothing is sent
        reg.update('tok', token='not-the-launch-token')
        with pytest.raises(DeployError, match='not as the engine registered there'):
            lazyllm.TrainableModule(str(tiny_llm_path)).start(name='tok')
        with pytest.raises(DeployError, match='not as the engine registered there'):
            lazyllm.connect('tok')
    finally:
        owner.stop(force=True)


def test_ps_json_never_shows_the_token(home, tiny_llm_path):
    import json
    import subprocess

    import lazyllm
    owner = lazyllm.TrainableModule(str(tiny_llm_path)).start(name='quiet')
    try:
        out = subprocess.run([sys.executable, '-m', 'lazyllm', 'ps', '--json'],
                             capture_output=True, text=True, timeout=60, check=True).stdout
        rows = json.loads(out)
        assert [r['name'] for r in rows] == ['quiet']
        assert 'token' not in rows[0] and owner.deployment.token not in out
    finally:
        owner.stop(force=True)


def test_a_builtin_engine_binds_a_free_port_itself(tiny_llm):
    """Given port 0, the engine binds a port itself and announces it: there is no port
    picked in advance for another process to take first."""
    from urllib.parse import urlparse
    job = tiny_llm.deployment.job
    assert job.argv[job.argv.index('--port') + 1] == '0'
    assert job.endpoint['port'] == urlparse(tiny_llm.url).port


def test_an_engine_whose_port_is_taken_says_so_before_loading(tmp_path):
    import socket
    import subprocess
    with socket.socket() as busy:
        busy.bind(('127.0.0.1', 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = subprocess.run([sys.executable, '-m', 'lazyllm.deploy.servers', 'llm', '--model',
                              str(tmp_path), '--port', str(port)],
                             capture_output=True, text=True, timeout=120)
    assert out.returncode == 6
    assert f'lazyllm engine error: cannot listen on 127.0.0.1:{port}' in out.stderr


def test_endpoint_lines_add_up():
    """The node script's line (no port: the engine binds one), then the engine's."""
    from lazyllm.launch._node import PREFIX, parse_endpoint
    text = '\n'.join([PREFIX + '{"host": "10.0.0.5", "port": null, "node": "n1"}', 'loading',
                      PREFIX + '{"host": "10.0.0.5", "port": 4321}', PREFIX + '{"port'])
    assert parse_endpoint(text) == {'host': '10.0.0.5', 'port': 4321, 'node': 'n1'}
    assert parse_endpoint('nothing yet') is None
