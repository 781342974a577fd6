"""TrainableModule on embedding and rerank models: same vectors as sentence-transformers."""
import asyncio
import math

import pytest

import lazyllm
from lazyllm.errors import InputError


def cosine(a, b):
    return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) *
                                                       sum(y * y for y in b))


def test_embeddings_equal_in_process_encode(emb, minilm_path):
    from sentence_transformers import SentenceTransformer
    local = SentenceTransformer(str(minilm_path), device='cpu')
    texts = ['a sentence', 'The cat sat on the mat.', 'Paris is the capital of France.']
    assert emb.type == lazyllm.hub.ModelType.EMBED
    one = emb(texts[0])
    assert len(one) == 384 and isinstance(one[0], float)
    assert cosine(one, local.encode(texts[0]).tolist()) > 0.999
    batch = emb(texts)
    expected = local.encode(texts).tolist()
    assert len(batch) == 3 and all(cosine(a, b) > 0.999 for a, b in zip(batch, expected))
    again = asyncio.run(emb.acall(texts))
    assert all(cosine(a, b) > 0.9999 for a, b in zip(again, batch))


def test_embedding_bad_input(emb):
    for bad in (None, '', [], ['ok', 3]):
        with pytest.raises(InputError, match='embedding model takes'):
            emb(bad)


def test_rerank_puts_the_relevant_document_first(rr):
    docs = ['The stock market fell sharply on Monday.',
            'Paris is the capital and largest city of France.',
            'Bananas are rich in potassium.']
    ranked = rr('What is the capital of France?', documents=docs)
    assert rr.type == lazyllm.hub.ModelType.RERANK
    assert ranked[0][0] == 1 and len(ranked) == 3
    assert ranked[0][1] >= ranked[1][1] >= ranked[2][1]
    assert rr('What is the capital of France?', documents=docs, top_n=2) == ranked[:2]
    with pytest.raises(InputError, match='top_n must be an int >= 1'):
        rr('q', documents=docs, top_n=0)
