"""Fixtures shared by the whole suite: an isolated lazyllm home, and real models/engines.

Model fixtures build (or reuse from the cache) the real test models of tests/support and
are skipped with a reason when torch is not installed. Every engine a fixture starts is
stopped at the end of its scope.
"""
import os

import pytest


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


@pytest.fixture(scope='session')
def tiny_llm_path():
    pytest.importorskip('torch')
    from tests.support.models import tiny_qwen2
    return tiny_qwen2()


@pytest.fixture(scope='session')
def smollm_path():
    pytest.importorskip('torch')
    from tests.support.models import smollm2_135m_instruct
    return smollm2_135m_instruct()


@pytest.fixture(scope='session')
def minilm_path():
    pytest.importorskip('sentence_transformers')
    from tests.support.models import minilm_l6_v2
    return minilm_l6_v2()


@pytest.fixture(scope='session')
def reranker_path():
    pytest.importorskip('sentence_transformers')
    from tests.support.models import tiny_cross_encoder
    return tiny_cross_encoder()


@pytest.fixture(scope='module')
def tiny_llm(tiny_llm_path):
    """A started TrainableModule on the tiny random Qwen2, logging request bodies."""
    import lazyllm
    m = lazyllm.TrainableModule(tiny_llm_path).deploy_method(
        lazyllm.deploy.transformers, log_requests=True, max_batch=8).start()
    yield m
    m.stop()
