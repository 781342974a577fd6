"""End to end: a catalog name -> download from the (local) hub -> deploy -> embed."""
import json
import math

import lazyllm

from .conftest import REPO


def test_trainable_module_downloads_then_deploys(hub, tmp_path, monkeypatch, minilm_path):
    extra = tmp_path / 'catalog.json'
    extra.write_text(json.dumps({'minilm-test': {'hf': REPO, 'ms': '', 'type': 'embed',
                                                 'params': '22M', 'context': 256}}))
    monkeypatch.setenv('LAZYLLM_CATALOG', str(extra))
    m = lazyllm.TrainableModule('minilm-test')
    assert hub.requests == []                      # constructors do no I/O
    with m.start():
        assert hub.count('GET', 'model.safetensors') == 1
        assert (hub.cache / REPO / 'model.safetensors').is_file()
        assert m.type == lazyllm.hub.ModelType.EMBED
        vec = m('The cat sat on the mat.')
    from sentence_transformers import SentenceTransformer
    ref = SentenceTransformer(str(minilm_path), device='cpu').encode('The cat sat on the mat.')
    dot = sum(a * b for a, b in zip(vec, ref.tolist()))
    assert dot / math.sqrt(sum(a * a for a in vec) * float((ref * ref).sum())) > 0.999
