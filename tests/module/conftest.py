"""Engines shared by the module tests: started once per test file, stopped at its end."""
import pytest

import lazyllm


@pytest.fixture(scope='module')
def emb(minilm_path):
    """A started TrainableModule on all-MiniLM-L6-v2 (the built-in embedding engine)."""
    m = lazyllm.TrainableModule(str(minilm_path)).start()
    yield m
    m.stop()


@pytest.fixture(scope='module')
def rr(reranker_path):
    """A started TrainableModule on the test cross-encoder (the built-in rerank engine)."""
    m = lazyllm.TrainableModule(str(reranker_path)).start()
    yield m
    m.stop()
