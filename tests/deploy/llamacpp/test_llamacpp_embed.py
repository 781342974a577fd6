"""An embedding GGUF (MiniLM, converted by llama.cpp's converter) is served with --embeddings:
the header says it embeds, auto picks llamacpp, and the vectors match sentence-transformers'."""
import numpy as np

import lazyllm

TEXTS = ['The cat sits on the mat.', 'Paris is the capital of France.', 'hello']


def test_embeddings_match_sentence_transformers(minilm_gguf, minilm_path):
    from sentence_transformers import SentenceTransformer
    assert lazyllm.hub.read_gguf_header(minilm_gguf).architecture == 'bert'
    assert lazyllm.hub.model_type(minilm_gguf) == lazyllm.hub.ModelType.EMBED
    with lazyllm.TrainableModule(minilm_gguf).start() as m:
        assert m.deployment.served_by.name == 'llamacpp'
        ours = np.array(m(TEXTS))
        one = np.array(m(TEXTS[0]))
    theirs = SentenceTransformer(str(minilm_path), device='cpu').encode(
        TEXTS, normalize_embeddings=True)
    assert ours.shape == theirs.shape == (3, 384) and one.shape == (384,)
    cosines = (ours * theirs).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(theirs,
                                                                                    axis=1)
    assert cosines.min() > 0.99, cosines
    assert np.allclose(one, ours[0], atol=1e-4)
