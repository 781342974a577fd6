"""examples/ stay runnable: each script runs to completion with real output."""
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_quickstart_runs():
    out = subprocess.run([sys.executable, str(ROOT / 'examples' / 'quickstart.py')],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "{'topic': 'billing', 'priority': 'P1'" \
        in out.stdout
    assert "batch: ['bug', 'billing']" in out.stdout


def test_chat_local_runs_on_the_builtin_default_model(smollm_path):
    # No argument and no llama.cpp: the example asks for 'smollm2', which the library resolves
    # to its build; the cache is the one the smollm_path fixture built into (nothing rebuilt).
    env = {**os.environ, 'LAZYLLM_MODEL_CACHE_DIR': str(Path(smollm_path).parents[1]),
           'LAZYLLM_LLAMACPP_SERVER': '', 'PATH': os.pathsep.join(
               d for d in os.environ['PATH'].split(os.pathsep)
               if not os.path.exists(os.path.join(d, 'llama-server')))}
    out = subprocess.run([sys.executable, str(ROOT / 'examples' / 'chat_local.py')],
                         capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert re.search(r'engine ready at http://\S+ \(transformers\)', out.stdout)
    assert 'geography: The capital of France is Paris.' in out.stdout
    assert out.stdout.split('poet:', 1)[1].strip()


def test_gateway_example_serves_a_deployment_and_its_variant(smollm_path, tmp_path):
    env = {**os.environ, 'LAZYLLM_MODEL_CACHE_DIR': str(Path(smollm_path).parents[1]),
           'LAZYLLM_HOME': str(tmp_path)}
    out = subprocess.run([sys.executable, str(ROOT / 'examples' / 'gateway.py')],
                         capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert 'models: smol (llm), smol:geo (llm)' in out.stdout
    assert 'smol:geo: The capital of France is Paris.' in out.stdout
    from lazyllm.registry import Registry
    rows = Registry(tmp_path / 'registry.db').all()
    assert [r.status for r in rows] == ['stopped'], rows     # the example stopped its engine


def test_chat_local_serves_the_gguf_with_llamacpp_when_installed(llama_server):
    out = subprocess.run([sys.executable, str(ROOT / 'examples' / 'chat_local.py')],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert re.search(r'engine ready at http://\S+ \(llamacpp\)', out.stdout)
    assert 'geography: The capital of France is Paris.' in out.stdout
    assert out.stdout.split('poet:', 1)[1].strip()


def test_online_chat_runs_against_an_openai_compatible_server():
    from tests.servers.openai_server import OpenAIServer
    with OpenAIServer() as srv:
        out = subprocess.run([sys.executable, str(ROOT / 'examples' / 'online_chat.py'),
                              '--base-url', srv.base_url], capture_output=True, text=True,
                             timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert 'answer: What is the capital of France?' in out.stdout   # the server echoes
    assert 'stream: Name three colours.' in out.stdout
    assert "usage: {'requests': 3" in out.stdout
    assert 'AutoModel builds an online model' in out.stdout


def test_the_other_examples_default_to_the_builtin_model(smollm_path):
    env = {**os.environ, 'LAZYLLM_MODEL_CACHE_DIR': str(Path(smollm_path).parents[1])}
    code = 'from _default_model import model_folder; print(model_folder())'
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         timeout=120, env=env, cwd=ROOT / 'examples')
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == str(smollm_path)
    # nothing in examples/ reaches into the test tree: they work from an installed package
    for script in (ROOT / 'examples').glob('*.py'):
        assert 'tests.support' not in script.read_text(), script.name
