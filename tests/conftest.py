"""Fixtures shared by the whole suite: an isolated lazyllm home, and real models/engines.

Model fixtures build (or reuse from the cache) the real test models of tests/support and
are skipped with a reason when torch is not installed. Every engine a fixture starts is
stopped at the end of its scope.
"""
import os

import pytest

from tests.support import fixtures, speech


@pytest.fixture(scope='session', autouse=True)
def lazyllm_home(tmp_path_factory):
    """Engine logs and config of the test run go to a temporary home, not ~/.lazyllm."""
    home = tmp_path_factory.mktemp('lazyllm-home')
    old = os.environ.get('LAZYLLM_HOME')
    os.environ['LAZYLLM_HOME'] = str(home)
    yield home
    if old is None:
        os.environ.pop('LAZYLLM_HOME', None)
    else:
        os.environ['LAZYLLM_HOME'] = old


# The real test models (tests/support/fixtures.py): skipped with the install command when a
# package is missing, otherwise built once and cached.
tiny_llm_path = pytest.fixture(scope='session')(fixtures.tiny_llm_path)
tiny_llm_vllm_path = pytest.fixture(scope='session')(fixtures.tiny_llm_vllm_path)
smollm_path = pytest.fixture(scope='session')(fixtures.smollm_path)
minilm_path = pytest.fixture(scope='session')(fixtures.minilm_path)
reranker_path = pytest.fixture(scope='session')(fixtures.reranker_path)
llama_server = pytest.fixture(scope='session')(fixtures.llama_server)
whisper_path = pytest.fixture(scope='session')(speech.whisper_path)
speech_files = pytest.fixture(scope='session', name='speech')(speech.speech)


@pytest.fixture(scope='module')
def tiny_llm(tiny_llm_path):
    """A started TrainableModule on the tiny random Qwen2, logging request bodies."""
    import lazyllm
    m = lazyllm.TrainableModule(tiny_llm_path).deploy_method(
        lazyllm.deploy.transformers, log_requests=True, max_batch=8).start()
    yield m
    m.stop()


@pytest.fixture(scope='module')
def emb(minilm_path):
    """A started TrainableModule on all-MiniLM-L6-v2 (the built-in embedding engine)."""
    import lazyllm
    m = lazyllm.TrainableModule(str(minilm_path)).start()
    yield m
    m.stop()
