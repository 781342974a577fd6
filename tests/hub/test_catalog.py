"""The catalog: short names and repo ids, suggestions, a user overlay, and `lazyllm models`."""
import json

import pytest

from lazyllm.cli import main
from lazyllm.errors import ConfigError, ModelNotFoundError
from lazyllm.hub import ModelType, catalog, catalog_type, lookup, resolve_model, suggest


def test_builtin_entries_and_lookup():
    table = catalog()
    assert len(table) >= 20
    for name in ('qwen2-1.5b', 'qwen2-7b', 'bge-large-zh-v1.5', 'bge-reranker-large',
                 'internlm2-chat-7b', 'SmolLM2-135M-Instruct', 'all-MiniLM-L6-v2',
                 'whisper-tiny'):
        assert name in table and table[name].hf and table[name].ms
    assert lookup('Qwen/Qwen2-1.5B-Instruct').name == 'qwen2-1.5b'        # full repo id
    assert lookup('qwen/qwen2-1.5b-instruct').name == 'qwen2-1.5b'        # modelscope id
    assert lookup('QWEN2-1.5B').hf == 'Qwen/Qwen2-1.5B-Instruct'
    assert catalog_type('bge-reranker-large') is ModelType.RERANK
    assert catalog_type('whisper-tiny') is ModelType.STT
    assert catalog_type('no-such-model') is None


def test_unknown_name_did_you_mean(tmp_path, monkeypatch):
    monkeypatch.setenv('LAZYLLM_MODEL_CACHE_DIR', str(tmp_path))
    assert suggest('qwen2-1.5')[0] == 'qwen2-1.5b'
    assert 'bge-large-zh-v1.5' in suggest('bge-large-zh')
    with pytest.raises(ModelNotFoundError, match=r'Did you mean: .*bge-reranker-large') as info:
        resolve_model('bge-reranker-larg')     # a bare id: tried on Hugging Face only
    assert 'lazyllm models' in str(info.value)


def test_user_catalog_overlay(tmp_path, monkeypatch):
    extra = tmp_path / 'cat.json'
    extra.write_text(json.dumps({'my-embed': {'hf': 'me/embed', 'type': 'embed'},
                                 'qwen2-7b': {'hf': 'mirror/Qwen2-7B', 'type': 'llm'}}))
    monkeypatch.setenv('LAZYLLM_CATALOG', str(extra))
    assert lookup('my-embed').hf == 'me/embed' and lookup('me/embed').name == 'my-embed'
    assert lookup('qwen2-7b').hf == 'mirror/Qwen2-7B'       # overrides the built-in entry
    assert lookup('qwen2-1.5b') is not None                  # the rest is still there
    extra.write_text('{not json')
    with pytest.raises(ConfigError, match='LAZYLLM_CATALOG'):
        catalog()
    extra.write_text(json.dumps({'x': {'hf': 'a/b', 'colour': 'red'}}))
    with pytest.raises(ConfigError, match='bad catalog entry'):
        catalog()
    extra.write_text(json.dumps({'x': {'hf': 'a/b', 'format': 'onnx'}}))
    with pytest.raises(ConfigError, match="format 'onnx': use one of safetensors, gguf"):
        catalog()


def test_the_catalog_lists_gguf_variants(capsys):
    assert lookup('qwen2.5-0.5b-gguf').format == 'gguf'
    assert lookup('Qwen/Qwen2.5-7B-Instruct-GGUF').name == 'qwen2.5-7b-gguf'
    assert lookup('qwen2.5-0.5b').format == 'safetensors'
    assert main(['models', '--json']) == 0
    formats = {e['name']: e['format'] for e in json.loads(capsys.readouterr().out)}
    assert formats['smollm2-gguf'] == formats['qwen2-0.5b-gguf'] == 'gguf'
    assert formats['smollm2'] == 'safetensors'


def test_models_command_lists_the_catalog(capsys):
    assert main(['models']) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:3] == ['NAME', 'TYPE', 'PARAMS']
    assert 'qwen2-1.5b' in out and 'Qwen/Qwen2-1.5B-Instruct' in out
    assert main(['models', '--type', 'embed']) == 0
    rows = capsys.readouterr().out.splitlines()[1:]
    assert rows and all(r.split()[1] == 'embed' for r in rows)
    assert any(r.startswith('all-MiniLM-L6-v2') for r in rows)
    assert main(['models', '--type', 'bogus']) == 2     # a usage error
    assert "invalid choice: 'bogus'" in capsys.readouterr().err
