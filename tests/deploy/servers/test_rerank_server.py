"""The rerank engine over real HTTP, on the tiny MiniLM cross-encoder, against the model's
own logits computed in-process with plain transformers (score = sigmoid(logit))."""
import concurrent.futures as cf

import pytest

from lazyllm.client import Client
from tests.support.models import RERANK_HELD_OUT

from .conftest import API_KEY, assert_401_without_the_key, assert_fails_in_one_line

QUERY, _GOOD, _BAD = RERANK_HELD_OUT   # a triple the tiny reranker was not trained on
DOCS = [_BAD, 'Cats sleep up to sixteen hours a day.', _GOOD, 'Bananas are a yellow fruit.']
RELEVANT = 2


@pytest.fixture(scope='module')
def started(engines, reranker_path, not_a_model):
    """The engine, an engine on a non-model folder and the in-process reference, together."""
    engine = engines.start('rerank', reranker_path, api_key=API_KEY, wait=False)
    failing = engines.start_failing('rerank', not_a_model)
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    model = AutoModelForSequenceClassification.from_pretrained(reranker_path).eval()
    return engine.wait_ready(), failing, (model, AutoTokenizer.from_pretrained(reranker_path))


@pytest.fixture(scope='module')
def server(started):
    return started[0]


@pytest.fixture(scope='module')
def client(server):
    with Client(server.url, api_key=API_KEY) as c:
        yield c


def reference_scores(started, query, docs):
    import torch
    model, tok = started[2]
    features = tok([query] * len(docs), docs, padding=True, truncation=True,
                   return_tensors='pt')
    with torch.no_grad():
        return torch.sigmoid(model(**features).logits[:, 0]).tolist()


def test_relevant_document_ranks_first_and_scores_are_the_models(client, started):
    ranked = client.rerank(QUERY, DOCS)
    assert ranked[0][0] == RELEVANT
    assert sorted(i for i, _ in ranked) == list(range(len(DOCS)))   # indices: input order
    want = reference_scores(started, QUERY, DOCS)
    for index, score in ranked:
        assert 0 < score < 1 and abs(score - want[index]) < 1e-4
    assert [i for i, _ in ranked] == sorted(range(len(DOCS)), key=lambda i: -want[i])


def test_top_n_keeps_the_best(server, client):
    everything = client.rerank(QUERY, DOCS)
    assert client.rerank(QUERY, DOCS, top_n=2) == everything[:2]
    body = server.post('/v1/rerank', {'query': QUERY, 'documents': DOCS, 'top_n': 10}).json()
    assert len(body['results']) == len(DOCS)


def test_response_shape_documents_usage_and_aliases(server, started):
    body = {'query': QUERY, 'documents': [DOCS[0], {'text': DOCS[2]}], 'model': 'test-rerank'}
    answer = server.post('/v1/rerank', body)
    out = answer.json()
    assert out['model'] == 'test-rerank' and out['id'].startswith('rerank-')
    extra = server.post('/v1/rerank', {**body, 'max_chunks_per_doc': 2})
    assert extra.status_code == 400 and extra.json()['error']['param'] == 'max_chunks_per_doc'
    assert [(r['index'], r['document']['text']) for r in out['results']] == \
        [(1, DOCS[2]), (0, DOCS[0])]
    _, tok = started[2]
    tokens = sum(len(tok(QUERY, d)['input_ids']) for d in (DOCS[0], DOCS[2]))
    assert out['usage'] == {'total_tokens': tokens}
    assert answer.headers['x-lazyllm-truncated-inputs'] == '0'
    bare = server.post('/rerank', {**body, 'return_documents': False}).json()
    assert all('document' not in r for r in bare['results'])
    assert [r['index'] for r in server.post('/v2/rerank', body).json()['results']] == [1, 0]


def test_too_long_pair_is_truncated_visibly(server):
    answer = server.post('/v1/rerank', {'query': QUERY, 'documents': ['paris ' * 800, 'x']})
    assert answer.status_code == 200
    assert answer.headers['x-lazyllm-truncated-inputs'] == '1'
    assert answer.json()['usage']['truncated_inputs'] == 1


def test_concurrent_requests_are_batched(server):
    before = server.stats()
    with Client(server.url, api_key=API_KEY) as c, cf.ThreadPoolExecutor(16) as pool:
        firsts = list(pool.map(lambda k: c.rerank(QUERY, DOCS[k:] + DOCS[:k])[0][0], range(4)))
    assert firsts == [(RELEVANT - k) % len(DOCS) for k in range(4)]
    after = server.stats()
    assert after['requests'] - before['requests'] == 4
    with Client(server.url, api_key=API_KEY) as c, cf.ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda _: c.rerank(QUERY, DOCS), range(16)))
    final = server.stats()
    assert final['batches'] - after['batches'] < 16


@pytest.mark.parametrize('body, message', [
    ({'documents': DOCS}, 'query must be a non-empty string'),
    ({'query': '', 'documents': DOCS}, 'query must be a non-empty string'),
    ({'query': QUERY}, 'documents must be a non-empty list'),
    ({'query': QUERY, 'documents': []}, 'documents must be a non-empty list'),
    ({'query': QUERY, 'documents': ['ok', 5]}, 'documents[1] must be a string'),
    ({'query': QUERY, 'documents': [{'txt': 'x'}]}, 'documents[0] must be a string'),
    ({'query': QUERY, 'documents': DOCS, 'top_n': 0}, 'top_n must be an int >= 1'),
    ({'query': QUERY, 'documents': DOCS, 'top_n': True}, 'top_n must be an int >= 1'),
    ({'query': QUERY, 'documents': DOCS, 'return_documents': 'yes'}, 'return_documents'),
    ([QUERY, DOCS], 'must be a JSON object'),
])
def test_bad_input_is_a_400_that_names_the_field(server, body, message):
    answer = server.post('/v1/rerank', body)
    assert answer.status_code == 400
    assert message in answer.json()['error']['message']


def test_models_card_and_api_key(server):
    card = server.get('/v1/models')['data'][0]
    assert card['kind'] == 'rerank' and card['max_model_len'] == 256   # as it was built
    assert_401_without_the_key(server, '/v1/rerank', {'query': QUERY, 'documents': DOCS})


def test_a_folder_that_is_not_a_model_fails_in_one_line(started, not_a_model):
    assert_fails_in_one_line(started[1], not_a_model)
