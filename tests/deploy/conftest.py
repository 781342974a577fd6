"""Engines for the OpenAI-contract tests of this folder: real engine processes started through
``TrainableModule``, one per test module (module scope), stopped at its end. The embedding
engine is ``emb`` (tests/conftest.py)."""
import pytest


@pytest.fixture(scope='module')
def smollm_llm(smollm_path):
    """The built-in transformers engine on SmolLM2-135M-Instruct (a real chat model)."""
    import lazyllm
    m = lazyllm.TrainableModule(str(smollm_path)).deploy_method(
        lazyllm.deploy.transformers, max_batch=8).start()
    yield m
    m.stop()

