"""TrainableModule errors: each is a lazyllm error whose message names the cause and the fix.

Bad input to a started module is refused before anything is sent; deploy failures surface
from start() as the module's own error (the only failure of its tree) with the engine's own
words, quickly, never as a hang.
"""
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import lazyllm
from lazyllm.errors import DeployError, InputError, ModelNotFoundError, StartError

REPO = Path(lazyllm.__file__).resolve().parent.parent


def start_failure(module, kind):
    """The error start() reports for ``module`` (the only module of its tree)."""
    with pytest.raises(kind) as info:
        module.start()
    error = info.value
    assert not isinstance(error, StartError), 'a single failure is raised as itself'
    assert module.status in ('stopped', 'failed') and module.url is None
    return error


# -- bad input to a started module ----------------------------------------------------------
@pytest.mark.parametrize('value, message', [
    ('', 'the prompt is empty'),
    ('   ', 'the prompt is empty'),
    (None, 'the prompt is empty'),
    (['hi', 'there'], 'an LLM takes a str or a dict, got list'),
    (42, 'an LLM takes a str or a dict, got int'),
])
def test_bad_llm_input(tiny_llm, value, message):
    with pytest.raises(InputError, match=message):
        tiny_llm(value)
    with pytest.raises(InputError, match=message):
        list(tiny_llm.stream(value))


def test_llm_takes_one_input(tiny_llm):
    with pytest.raises(InputError, match='takes one input.*got 2 positional'):
        tiny_llm('a', 'b')
    with pytest.raises(InputError, match='the prompt is empty.*history that ends with tool'):
        tiny_llm()                     # no input continues only after tool results


def test_embedding_and_rerank_input_checked_before_sending(tiny_llm):
    # attached by URL with the type given: the input is refused before any request is made
    emb = lazyllm.TrainableModule(url=tiny_llm.url, type='embed')
    rr = lazyllm.TrainableModule(url=tiny_llm.url, type='rerank')
    try:
        for bad in (42, [1, 2], ['ok', ''], [], None):
            with pytest.raises(InputError, match='an embedding model takes a non-empty str'):
                emb(bad)
        with pytest.raises(InputError, match=r'top_n must be an int >= 1, got 0'):
            rr('query', documents=['a', 'b'], top_n=0)
        with pytest.raises(InputError, match=r'top_n must be an int >= 1, got True'):
            rr('query', documents=['a', 'b'], top_n=True)
        with pytest.raises(InputError, match='non-empty query str'):
            rr('', documents=['a'])
        with pytest.raises(InputError, match=r'documents=\[str, \.\.\.\]'):
            rr('query', documents='not a list')
    finally:
        emb.stop()
        rr.stop()


def test_bad_constructor_arguments():
    with pytest.raises(InputError, match='base_model must be a model name or path, got int'):
        lazyllm.TrainableModule(123)
    with pytest.raises(InputError, match='unknown model type'):
        lazyllm.TrainableModule('x', type='nonsense')


# -- where the model is -----------------------------------------------------------------------
def test_folder_without_weights(tmp_path):
    folder = tmp_path / 'no-weights'
    folder.mkdir()
    (folder / 'config.json').write_text('{"architectures": ["Qwen2ForCausalLM"]}')
    error = start_failure(lazyllm.TrainableModule(folder), ModelNotFoundError)
    assert str(folder) in str(error) and 'has no model weights' in str(error)
    assert 'point to the folder that holds the weight files' in str(error)


def test_name_found_nowhere_lists_the_places(tmp_path, monkeypatch):
    roots = [tmp_path / 'root-a', tmp_path / 'root-b']
    for r in roots:
        r.mkdir()
    cache = tmp_path / 'cache'
    monkeypatch.setenv('LAZYLLM_MODEL_PATH', ':'.join(map(str, roots)))
    monkeypatch.setenv('LAZYLLM_MODEL_CACHE_DIR', str(cache))
    for var in ('HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE'):   # offline mode has its own text
        monkeypatch.delenv(var, raising=False)
    error = start_failure(lazyllm.TrainableModule('some-org/no-such-model'), ModelNotFoundError)
    text = str(error)
    assert "'some-org/no-such-model' was not found" in text
    for place in [roots[0] / 'some-org/no-such-model', roots[0] / 'no-such-model',
                  roots[1] / 'some-org/no-such-model', cache / 'no-such-model']:
        assert str(place) in text
    assert 'LAZYLLM_MODEL_PATH' in text


def test_nothing_to_deploy():
    error = start_failure(lazyllm.TrainableModule(), InputError)
    assert 'nothing to deploy' in str(error) and 'url=' in str(error)
    with pytest.raises(InputError, match='nothing to deploy'):
        lazyllm.TrainableModule()('hello')


# -- engine options and types -------------------------------------------------------------
def test_unknown_engine_option_lists_the_valid_ones(tiny_llm_path):
    m = lazyllm.TrainableModule(tiny_llm_path)
    with pytest.raises(InputError) as info:
        m.deploy_method(lazyllm.deploy.transformers, bogus=1)
    text = str(info.value)
    assert 'transformers engine has no option(s) bogus' in text
    for name in ('dtype', 'max_batch', 'log_requests', 'device'):
        assert name in text
    with pytest.raises(InputError, match='max_batch must be an int'):
        m.deploy_method(lazyllm.deploy.transformers, max_batch='8')
    with pytest.raises(InputError, match='unknown engine'):
        m.deploy_method('no-such-engine')
    for port in (0, 70000, '8000'):
        with pytest.raises(InputError, match='port must be an int between 1 and 65535'):
            m.deploy_method(lazyllm.deploy.transformers, port=port)


def test_engine_of_the_wrong_type(tiny_llm_path):
    m = lazyllm.TrainableModule(tiny_llm_path).deploy_method(lazyllm.deploy.embedding)
    t0 = time.monotonic()
    error = start_failure(m, DeployError)
    assert time.monotonic() - t0 < 5             # refused before anything is launched
    assert 'the embedding engine does not serve llm models (it serves embed)' in str(error)
    assert m.deployment.job is None


def test_deploy_method_on_a_started_module(tiny_llm):
    """A changed method swaps the engine (tests/faults/test_swap.py); a bad one is refused
    before anything starts, the same one again changes nothing, and a URL is refused."""
    job = tiny_llm.deployment.job
    with pytest.raises(InputError, match='no_such_option'):
        tiny_llm.deploy_method(lazyllm.deploy.transformers, no_such_option=1)
    tiny_llm.deploy_method(lazyllm.deploy.transformers, log_requests=True, max_batch=8)
    with pytest.raises(InputError, match=r'deploy_method\(url=\.\.\.\) on a running module.*'
                                         r'stop\(\)'):
        tiny_llm.deploy_method(url=tiny_llm.url)
    attached = lazyllm.TrainableModule(url=tiny_llm.url).start()
    try:
        with pytest.raises(InputError, match='attached to .* call stop'):
            attached.deploy_method(lazyllm.deploy.auto, url=tiny_llm.url)
    finally:
        attached.stop()
    assert tiny_llm.status == 'running' and tiny_llm.deployment.job is job


# -- the engine cannot start ----------------------------------------------------------------
def test_port_already_taken(tiny_llm_path):
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        s.listen()
        port = s.getsockname()[1]
        m = lazyllm.TrainableModule(tiny_llm_path).deploy_method(
            lazyllm.deploy.transformers, port=port)
        error = start_failure(m, DeployError)
    assert f'port {port} on 127.0.0.1 is already in use' in str(error)
    assert 'port=' in str(error)
    assert m.deployment.job is None


def test_missing_engine_dependency(tiny_llm_path, tmp_path, monkeypatch):
    venv = tmp_path / 'bare-venv'
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(venv)], check=True,
                   timeout=120)
    monkeypatch.setenv('PYTHONPATH', str(REPO))      # it can import lazyllm, nothing else
    m = lazyllm.TrainableModule(tiny_llm_path).deploy_method(
        lazyllm.deploy.transformers, python=str(venv / 'bin' / 'python'))
    t0 = time.monotonic()
    error = start_failure(m, DeployError)
    assert time.monotonic() - t0 < 20
    text = str(error)
    assert 'exited before it was ready (exit code 3)' in text
    assert re.search(r"missing Python package '(fastapi|uvicorn|torch|transformers)' needed "
                     r'by the lazyllm llm engine', text), text
    assert "pip install 'lazyllm-model-layer[local]'" in text
    assert str(venv / 'bin' / 'python') in text
    assert 'Last log lines:' in text and 'Full log:' in text


def test_engine_python_that_does_not_exist(tiny_llm_path, tmp_path):
    python = str(tmp_path / 'no-venv' / 'bin' / 'python')
    m = lazyllm.TrainableModule(tiny_llm_path).deploy_method(lazyllm.deploy.transformers,
                                                             python=python)
    error = start_failure(m, DeployError)
    assert f"cannot launch '{python}': no such file" in str(error)
    assert m.deployment.job is None


def test_model_that_fails_to_load(tmp_path):
    folder = tmp_path / 'broken-llm'
    folder.mkdir()
    (folder / 'config.json').write_text('{"architectures": ["Qwen2ForCausalLM", ')
    (folder / 'model.safetensors').write_bytes(b'not a safetensors file')
    m = lazyllm.TrainableModule(folder).deploy_method(lazyllm.deploy.transformers)
    t0 = time.monotonic()
    error = start_failure(m, DeployError)
    assert time.monotonic() - t0 < 60, 'a model that cannot load must not look like a slow one'
    text = str(error)
    assert f'the transformers engine for {folder} exited before it was ready' in text
    assert f'cannot load the model at {folder}' in text
    assert 'Last log lines:' in text and 'Traceback' in text
    assert m.deployment.job is None and m.status == 'failed'
