"""Name or path -> model folder, and where it looked when it is found nowhere."""
import pytest

from lazyllm.errors import InputError, ModelNotFoundError
from lazyllm.hub import resolve_model


def model_dir(root, name):
    d = root / name
    d.mkdir(parents=True)
    (d / 'model.safetensors').write_bytes(b'x')
    return d


def test_paths_roots_and_cache(tmp_path, monkeypatch):
    a, b, cache = tmp_path / 'a', tmp_path / 'b', tmp_path / 'cache'
    direct = model_dir(tmp_path, 'direct')
    in_b = model_dir(b, 'Smol')
    in_org = model_dir(a, 'org/Deep')
    cached = model_dir(cache, 'Cached')
    monkeypatch.setenv('LAZYLLM_MODEL_PATH', f'{a}:{b}')
    monkeypatch.setenv('LAZYLLM_MODEL_CACHE_DIR', str(cache))
    assert resolve_model(str(direct)) == direct.resolve()
    monkeypatch.chdir(tmp_path)
    assert resolve_model('./direct') == direct.resolve()
    assert resolve_model('Smol') == in_b.resolve()
    assert resolve_model('org/Deep') == in_org.resolve()
    assert resolve_model('other/Smol') == in_b.resolve()     # org/name also tries name
    assert resolve_model('Cached') == cached.resolve()


def test_not_found_lists_every_place(tmp_path, monkeypatch):
    monkeypatch.setenv('LAZYLLM_MODEL_PATH', str(tmp_path / 'root'))
    monkeypatch.setenv('LAZYLLM_MODEL_CACHE_DIR', str(tmp_path / 'cache'))
    with pytest.raises(ModelNotFoundError) as info:
        resolve_model('Qwen/Qwen2-1.5B-Instruct')
    text = str(info.value)
    assert str(tmp_path / 'root' / 'Qwen2-1.5B-Instruct') in text
    assert str(tmp_path / 'cache' / 'Qwen/Qwen2-1.5B-Instruct') in text
    assert 'LAZYLLM_MODEL_PATH' in text


def test_folder_without_weights_and_empty_name(tmp_path):
    empty = tmp_path / 'empty'
    empty.mkdir()
    (empty / 'config.json').write_text('{}')
    with pytest.raises(ModelNotFoundError, match='has no model weights'):
        resolve_model(str(empty))
    with pytest.raises(InputError):
        resolve_model('')
