"""all-MiniLM-L6-v2 behind a real vLLM server (pooling runner, set automatically): the same
vectors as sentence-transformers in this process."""
import math

import psutil
import pytest

import lazyllm

TEXTS = ['a sentence', 'The cat sat on the mat.', 'Paris is the capital of France.',
         'A much longer sentence, with punctuation; numbers like 42 and 3.14, and words that '
         'the WordPiece vocabulary splits into several pieces: antidisestablishmentarianism.']


@pytest.fixture(scope='module')
def emb(vllm_python, minilm_path, server_options, timed_start):
    options = dict(server_options, max_model_len=256)
    m = lazyllm.TrainableModule(str(minilm_path)).deploy_method(
        lazyllm.deploy.vllm, python=vllm_python, **options)
    timed_start(m, 'minilm')
    yield m
    m.stop()


def cosine(a, b):
    return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) *
                                                       sum(y * y for y in b))


def test_pooling_runner_is_chosen_for_an_embedding_model(emb):
    assert emb.type == lazyllm.hub.ModelType.EMBED
    cmds = [p.cmdline() for p in psutil.Process(emb.deployment.job.pid).children(recursive=True)]
    argv = next(c for c in cmds if 'vllm.entrypoints.openai.api_server' in c)
    assert argv[argv.index('--runner') + 1] == 'pooling'
    assert argv[argv.index('--convert') + 1] == 'embed'


def test_embeddings_match_sentence_transformers(emb, minilm_path):
    from sentence_transformers import SentenceTransformer
    local = SentenceTransformer(str(minilm_path), device='cpu')
    expected = local.encode(TEXTS).tolist()
    one = emb(TEXTS[0])
    assert len(one) == 384 and isinstance(one[0], float)
    assert cosine(one, expected[0]) > 0.999
    batch = emb(TEXTS)
    assert len(batch) == len(TEXTS)
    assert all(cosine(a, b) > 0.999 for a, b in zip(batch, expected)), \
        [cosine(a, b) for a, b in zip(batch, expected)]
    # normalised like the model's modules.json says (Normalize module)
    assert all(abs(math.sqrt(sum(x * x for x in v)) - 1) < 1e-3 for v in batch)
