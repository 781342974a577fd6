"""A local hub serving MiniLM as ``test/minilm``, and an isolated environment.

The server lives for the module (hashing MiniLM's 90 MB once); ``hub`` resets its faults and
request log for each test and points ``HF_ENDPOINT``, ``MODELSCOPE_ENDPOINT`` (the server
answers both hubs' APIs), the lazyllm cache and the Hugging Face and ModelScope caches at
fresh places, so each test starts with nothing downloaded.
"""
import pytest

from tests.servers.hf_hub_server import HFHubServer

REPO = 'test/minilm'


@pytest.fixture(scope='module')
def hub_server(minilm_path):
    with HFHubServer({REPO: minilm_path}) as srv:
        yield srv


@pytest.fixture
def hub(hub_server, tmp_path, monkeypatch):
    hub_server.reset()
    hub_server.tokens.clear()
    hub_server.slow(0)
    for var in ('MODELSCOPE_DOMAIN', 'MODELSCOPE_API_TOKEN', 'HF_HUB_OFFLINE',
                'TRANSFORMERS_OFFLINE', 'HF_TOKEN', 'HF_HUB_CACHE', 'LAZYLLM_MODEL_SOURCE',
                'LAZYLLM_MODEL_SOURCE_TOKEN', 'LAZYLLM_MODEL_PATH', 'LAZYLLM_CATALOG'):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv('HF_ENDPOINT', hub_server.url)
    monkeypatch.setenv('MODELSCOPE_ENDPOINT', hub_server.url)     # it serves both APIs
    monkeypatch.setenv('HF_HOME', str(tmp_path / 'hf'))
    monkeypatch.setenv('MODELSCOPE_CACHE', str(tmp_path / 'ms'))
    monkeypatch.setenv('LAZYLLM_MODEL_CACHE_DIR', str(tmp_path / 'cache'))
    monkeypatch.setenv('HF_HUB_DISABLE_PROGRESS_BARS', '1')
    hub_server.cache = tmp_path / 'cache'
    return hub_server
