"""What the gateway test modules share: per module, a registry home of its own (the gateway
subprocess and deploy processes inherit LAZYLLM_HOME), named engines in it, and an ``openai``
client of the module's own ``gateway`` fixture. Whatever a failed test left running there is
stopped at the end of the module."""
import pytest

from tests.support.gateway import start_named, stop_leftovers


@pytest.fixture(scope='module')
def home(tmp_path_factory, request):
    with pytest.MonkeyPatch.context() as mp:
        folder = tmp_path_factory.mktemp(request.module.__name__.rsplit('.', 1)[-1] + '-home')
        mp.setenv('LAZYLLM_HOME', str(folder))
        yield folder
        stop_leftovers()


@pytest.fixture(scope='module')
def smol(home, smollm_path):
    """SmolLM2-135M-Instruct on the transformers engine, registered as ``smol``."""
    m = start_named(smollm_path, 'smol', llm=True)
    yield m
    m.stop(force=True)


@pytest.fixture(scope='module')
def emb(home, minilm_path):
    """all-MiniLM-L6-v2 on the embedding engine, registered as ``emb``."""
    m = start_named(minilm_path, 'emb')
    yield m
    m.stop(force=True)


@pytest.fixture(scope='module')
def client(gateway):
    """The official ``openai`` client of the module's ``gateway``."""
    c = gateway.client()
    yield c
    c.close()
