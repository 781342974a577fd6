"""The embedding engine over real HTTP, on all-MiniLM-L6-v2, against in-process
sentence-transformers (the reference for pooling and normalisation)."""
import base64
import concurrent.futures as cf

import numpy as np
import pytest

from lazyllm.client import Client
from lazyllm.errors import OnlineAPIError

from .conftest import API_KEY, assert_401_without_the_key, assert_fails_in_one_line

TEXTS = ['The cat sits on the mat.', 'A quick brown fox jumps over the lazy dog.',
         'Embeddings map sentences to vectors.', '', 'Paris is the capital of France.']


@pytest.fixture(scope='module')
def started(engines, minilm_path, not_a_model):
    """The engine, an engine on a non-model folder and the in-process reference, together."""
    engine = engines.start('embed', minilm_path, '--batch-size', '16', api_key=API_KEY,
                           wait=False)
    failing = engines.start_failing('embed', not_a_model)
    from sentence_transformers import SentenceTransformer
    reference = SentenceTransformer(str(minilm_path), device='cpu')
    return engine.wait_ready(), failing, reference


@pytest.fixture(scope='module')
def server(started):
    return started[0]


@pytest.fixture(scope='module')
def reference(started):
    return started[2]


@pytest.fixture(scope='module')
def client(server):
    with Client(server.url, api_key=API_KEY) as c:
        yield c


def cosines(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)


def test_vectors_equal_in_process_sentence_transformers(client, reference):
    one = client.embed(TEXTS[1])
    many = client.embed(TEXTS)
    want = reference.encode(TEXTS)
    assert np.asarray(one).shape == (1, 384) and np.asarray(many).shape == (5, 384)
    assert cosines(one[0], want[1]) > 0.999
    assert (cosines(many, want) > 0.999).all()
    assert np.allclose(np.linalg.norm(many, axis=1), 1.0, atol=1e-4)   # the Normalize module


def test_response_shape_usage_and_base64(server, reference):
    as_float = server.post('/v1/embeddings', {'input': TEXTS[:2], 'model': 'test-embed'})
    as_b64 = server.post('/v1/embeddings', {'input': TEXTS[:2], 'encoding_format': 'base64'})
    unknown = server.post('/v1/embeddings', {'input': TEXTS[:2], 'model': 'whatever'})
    assert unknown.status_code == 404
    assert unknown.json()['error'] == {
        'message': unknown.json()['error']['message'], 'type': 'invalid_request_error',
        'param': 'model', 'code': 'model_not_found'}
    assert "'whatever' does not exist here" in unknown.json()['error']['message']
    extra = server.post('/v1/embeddings', {'input': TEXTS[:1], 'truncate': True})
    assert extra.status_code == 400 and extra.json()['error']['code'] == 'unknown_parameter'
    assert server.post('/v1/embeddings', {'input': TEXTS[:1], 'user': 'u1'}).status_code == 200
    body = as_float.json()
    assert body['object'] == 'list' and body['model'] == 'test-embed'
    assert [(d['object'], d['index']) for d in body['data']] == [('embedding', 0),
                                                                   ('embedding', 1)]
    for f, b in zip(body['data'], as_b64.json()['data']):
        decoded = np.frombuffer(base64.b64decode(b['embedding']), dtype='<f4')
        assert np.array_equal(decoded, np.asarray(f['embedding'], dtype=np.float32))
    tokens = sum(len(reference.tokenizer(t)['input_ids']) for t in TEXTS[:2])
    assert body['usage'] == {'prompt_tokens': tokens, 'total_tokens': tokens} and tokens > 0
    assert as_float.headers['x-lazyllm-truncated-inputs'] == '0'


def test_too_long_input_is_truncated_visibly(server, reference):
    long = 'word ' * 1000
    answer = server.post('/v1/embeddings', {'input': [long, 'short']})
    assert answer.status_code == 200
    assert answer.headers['x-lazyllm-truncated-inputs'] == '1'
    usage = answer.json()['usage']
    assert usage['truncated_inputs'] == 1
    assert usage['prompt_tokens'] == 256 + 3           # the cap, plus [CLS] short [SEP]
    got = answer.json()['data'][0]['embedding']
    assert cosines(got, reference.encode(long)) > 0.999  # what the model itself does


def test_dimensions_truncates_and_renormalises(server):
    full = server.post('/v1/embeddings', {'input': TEXTS[0]}).json()['data'][0]['embedding']
    short = server.post('/v1/embeddings', {'input': TEXTS[0], 'dimensions': 64})
    vec = np.asarray(short.json()['data'][0]['embedding'])
    assert vec.shape == (64,) and abs(np.linalg.norm(vec) - 1) < 1e-5
    prefix = np.asarray(full[:64])
    assert np.allclose(vec, prefix / np.linalg.norm(prefix), atol=1e-6)


def test_concurrent_requests_are_batched_and_each_gets_its_own_vector(server, reference):
    texts = [f'sentence number {i} is about topic {i * 7 % 11}' for i in range(32)]
    before = server.stats()
    with Client(server.url, api_key=API_KEY) as c, cf.ThreadPoolExecutor(32) as pool:
        vectors = list(pool.map(lambda t: c.embed([t, t + ' again'])[0], texts))
    after = server.stats()
    assert (cosines(vectors, reference.encode(texts)) > 0.999).all()
    requests = after['requests'] - before['requests']
    batches = after['batches'] - before['batches']
    assert requests == 32 and batches < requests


@pytest.mark.parametrize('body, message', [
    ({}, 'input is required'),
    ({'input': []}, 'non-empty list of strings'),
    ({'input': None}, 'non-empty list of strings'),
    ({'input': ['ok', 3]}, 'input[1] must be a string'),
    ({'input': [1, 2, 3]}, 'token ids'),
    ({'input': [[1, 2], [3]]}, 'token ids'),
    ({'input': 'x', 'encoding_format': 'int8'}, 'encoding_format must be'),
    ({'input': 'x', 'dimensions': 385}, 'dimensions must be an int from 1 to 384'),
    ({'input': 'x', 'dimensions': 0}, 'dimensions must be'),
    (['not', 'an', 'object'], 'must be a JSON object'),
])
def test_bad_input_is_a_400_that_names_the_field(server, body, message):
    answer = server.post('/v1/embeddings', body)
    assert answer.status_code == 400
    assert message in answer.json()['error']['message']


def test_the_client_sees_the_400(client):
    with pytest.raises(OnlineAPIError) as info:
        client.embed('x', dimensions=1000)
    assert info.value.status == 400 and 'dimensions' in str(info.value)


def test_models_card_and_api_key(server):
    models = server.get('/v1/models')
    assert models['data'][0]['kind'] == 'embed' and models['data'][0]['max_model_len'] == 256
    assert_401_without_the_key(server, '/v1/embeddings', {'input': 'x'})


def test_a_folder_that_is_not_a_model_fails_in_one_line(started, not_a_model):
    assert_fails_in_one_line(started[1], not_a_model)


def test_normalize_option_and_a_folder_without_modules_json(minilm_path, reference, tmp_path,
                                                           caplog):
    """In-process (no server needed): what --normalize and a bare transformers folder give."""
    import argparse
    import logging

    from sentence_transformers import SentenceTransformer

    from lazyllm.deploy.servers.embed import Embedder, load_options
    bare = tmp_path / 'bare'
    bare.mkdir()
    for name in ('config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json',
                 'vocab.txt', 'special_tokens_map.json'):
        if (minilm_path / name).exists():
            (bare / name).symlink_to(minilm_path / name)
    args = argparse.Namespace(model=str(bare), device='cpu', dtype='auto', batch_size=8,
                              trust_remote_code=False)
    with caplog.at_level(logging.INFO, logger='lazyllm.engine'):
        plain = Embedder(SentenceTransformer(str(bare), **load_options(args)), 'auto')
    assert 'has no modules.json' in caplog.text and 'mean pooling' in caplog.text
    assert plain.describe() == 'Transformer -> Pooling(mean) (not normalised)'
    raw = SentenceTransformer(str(minilm_path), device='cpu')
    unnormalised = Embedder(raw, 'false')
    assert not unnormalised.normalized and 'Normalize' not in unnormalised.describe()
    want = reference.encode(TEXTS[:2])
    for embedder in (plain, unnormalised):
        got = np.asarray([v for v, _ in embedder(TEXTS[:2])])
        assert (np.linalg.norm(got, axis=1) > 1.5).all()   # MiniLM's raw mean-pooled norm
        assert (cosines(got, want) > 0.999).all()          # same direction: same pooling
