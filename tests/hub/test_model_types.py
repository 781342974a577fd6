"""Model type from the folder's own files; names only as a fallback."""
import json

import pytest

from lazyllm.errors import InputError
from lazyllm.hub import ModelType, infer_type, type_from_name


def folder(tmp_path, name, **files):
    d = tmp_path / name
    d.mkdir()
    for fname, content in files.items():
        (d / fname.replace('__', '.')).write_text(json.dumps(content))
    return d


@pytest.mark.parametrize('files, expected', [
    ({'config__json': {'architectures': ['LlamaForCausalLM']}}, ModelType.LLM),
    ({'config__json': {'architectures': ['BertModel'], 'model_type': 'bert'},
      'modules__json': []}, ModelType.EMBED),
    ({'config__json': {'architectures': ['XLMRobertaForSequenceClassification'],
                       'id2label': {'0': 'LABEL_0'}}}, ModelType.RERANK),
    ({'config__json': {'architectures': ['BertForSequenceClassification'],
                       'id2label': {'0': 'L'}}, 'modules__json': [],
      'config_sentence_transformers__json': {'model_type': 'CrossEncoder'}}, ModelType.RERANK),
    ({'config__json': {'architectures': ['BertForSequenceClassification'],
                       'id2label': {'0': 'neg', '1': 'pos'}}}, ModelType.CLASSIFY),
    ({'config__json': {'architectures': ['WhisperForConditionalGeneration']}}, ModelType.STT),
    ({'config__json': {'alignment_heads': [[1, 2]]}}, ModelType.STT),
    ({'config__json': {'architectures': ['Qwen2VLForConditionalGeneration'],
                       'vision_config': {}}}, ModelType.VLM),
    ({'model_index__json': {}}, ModelType.SD),
])
def test_folder_declares_its_type(tmp_path, files, expected):
    assert infer_type(folder(tmp_path, 'plain-name', **files)) == expected


def test_name_is_only_a_fallback(tmp_path):
    assert infer_type(folder(tmp_path, 'bge-reranker-large')) == ModelType.RERANK
    assert infer_type(folder(tmp_path, 'bge-large-zh-v1.5')) == ModelType.EMBED
    assert infer_type(folder(tmp_path, 'whisper-tiny')) == ModelType.STT
    llm_named_like_embed = folder(tmp_path, 'embed-me',
                                  config__json={'architectures': ['LlamaForCausalLM']})
    assert infer_type(llm_named_like_embed) == ModelType.LLM
    assert type_from_name('Qwen2-1.5B-Instruct') == ModelType.LLM


def test_parse():
    assert ModelType.parse('EMBED') is ModelType.EMBED
    with pytest.raises(InputError, match='unknown model type'):
        ModelType.parse('chat')


def test_model_type_takes_the_most_specific_evidence(tmp_path, monkeypatch):
    """One function for every caller: a folder's files, else the catalog, else the name."""
    from lazyllm.hub import model_type
    extra = tmp_path / 'cat.json'
    extra.write_text(json.dumps({'house-model': {'hf': 'me/house', 'type': 'embed'}}))
    monkeypatch.setenv('LAZYLLM_CATALOG', str(extra))
    assert model_type('house-model') == ModelType.EMBED          # the catalog's entry
    assert type_from_name('house-model') == ModelType.LLM        # what the name alone says
    assert model_type('acme/whisper-small') == ModelType.STT     # not in the catalog: name
    d = folder(tmp_path, 'an-embedding-by-name',                 # the files beat the name
               config__json={'architectures': ['LlamaForCausalLM']})
    assert model_type(d) == ModelType.LLM and model_type(str(d)) == ModelType.LLM
