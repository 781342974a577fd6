"""ModelScope through its real client (MODELSCOPE_ENDPOINT -> the local hub), and fallback."""
import pytest

from lazyllm.errors import DownloadError
from lazyllm.hub import _ms, resolve_model

from .conftest import REPO
from .test_download import WEIGHTS, same_files

pytest.importorskip('modelscope')
MS_FILES = '/api/v1/models/test/minilm/repo'


def test_modelscope_source_downloads_verified(hub, minilm_path, monkeypatch):
    monkeypatch.setenv('LAZYLLM_MODEL_SOURCE', 'modelscope')
    folder = resolve_model(REPO)
    assert folder == (hub.cache / REPO).resolve() and same_files(folder, minilm_path)
    assert hub.count('GET', MS_FILES + '/files') >= 1 and hub.count('GET', MS_FILES) > 5
    assert hub.count('GET', '/api/models/' + REPO) == 0       # Hugging Face not asked


def test_missing_on_huggingface_falls_back_to_modelscope(hub, minilm_path, caplog):
    hub.status(404, '/api/models/')
    folder = resolve_model(REPO)
    assert same_files(folder, minilm_path)
    assert 'was not found on huggingface' in caplog.text
    assert hub.count('GET', MS_FILES + '/files') >= 1


def test_not_on_either_hub(hub):
    with pytest.raises(DownloadError) as info:
        resolve_model('test/nothing-here')
    text = str(info.value)
    assert 'not found on huggingface' in text and 'not found on modelscope' in text


def test_modelscope_not_installed_falls_back_to_huggingface(hub, monkeypatch, caplog):
    def missing():
        raise DownloadError('the modelscope client is not installed: pip install modelscope')
    monkeypatch.setattr(_ms, 'client', missing)
    monkeypatch.setenv('LAZYLLM_MODEL_SOURCE', 'modelscope')
    assert resolve_model(REPO).is_dir()
    assert 'pip install modelscope' in caplog.text
    assert hub.count('GET', WEIGHTS) == 1


def test_modelscope_corrupt_file_is_not_taken(hub, minilm_path, monkeypatch):
    monkeypatch.setenv('LAZYLLM_MODEL_SOURCE', 'modelscope')
    hub.corrupt(WEIGHTS)
    folder = resolve_model(REPO)
    assert same_files(folder, minilm_path)
    assert hub.count('GET', MS_FILES) > 5
