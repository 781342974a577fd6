"""Engines shared by the module tests: started once per test file, stopped at its end."""
import pytest

import lazyllm


@pytest.fixture(scope='module')
def rr(reranker_path):
    """A started TrainableModule on the test cross-encoder (the built-in rerank engine)."""
    m = lazyllm.TrainableModule(str(reranker_path)).start()
    yield m
    m.stop()


@pytest.fixture
def no_online_keys(monkeypatch):
    """No supplier key, default source or config map leaks in from the machine (AutoModel's
    tests: what it builds must depend on the test alone)."""
    from lazyllm.module.online import suppliers
    for s in suppliers.values():
        monkeypatch.delenv(s.key_env, raising=False)
    for var in ('LAZYLLM_DEFAULT_SOURCE', 'LAZYLLM_AUTO_MODEL_CONFIG_MAP_PATH'):
        monkeypatch.delenv(var, raising=False)
