"""Engines shared by the module tests: started once per test file, stopped at its end."""
import pytest

import lazyllm


@pytest.fixture(scope='module')
def rr(reranker_path):
    """A started TrainableModule on the test cross-encoder (the built-in rerank engine)."""
    m = lazyllm.TrainableModule(str(reranker_path)).start()
    yield m
    m.stop()
