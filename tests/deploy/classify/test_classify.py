"""Text classification end to end: TrainableModule -> the classify engine (auto-picked from
the folder) -> lazyllm.client, against the same model run in-process with transformers."""
import concurrent.futures as cf

import httpx
import pytest

import lazyllm
from lazyllm.client import Client
from lazyllm.errors import InputError
from lazyllm.hub import ModelType, infer_type
from tests.support.classifier import CLASSIFIER_LABELS

from .conftest import MAX_LENGTH

LABELS = list(CLASSIFIER_LABELS)
TEXTS = ['I love it', 'The weather today is sunny', 'rain in the afternoon', 'hello',
         'Paris is the capital of France.', 'boring bad']
TOL = 1e-4


def assert_matches(result, probs):
    """A module/client result equals the reference probabilities of one text."""
    best = max(range(len(probs)), key=probs.__getitem__)
    assert result['label'] == LABELS[best]
    assert list(result['scores']) == LABELS
    for name, p in zip(LABELS, probs):
        assert abs(result['scores'][name] - p) < TOL
    assert result['score'] == result['scores'][result['label']]


def test_types_are_read_from_the_folders(classifier_path, reranker_path):
    assert infer_type(classifier_path) == ModelType.CLASSIFY
    assert infer_type(reranker_path) == ModelType.RERANK      # one label: still a reranker
    assert lazyllm.deploy.pick_engine(ModelType.CLASSIFY) is lazyllm.deploy.classify


def test_served_probabilities_are_the_models(classifier, reference):
    assert classifier.type == ModelType.CLASSIFY
    want = reference(TEXTS)
    with Client(classifier.url) as client:
        got = client.classify(TEXTS)
    assert len(got) == len(TEXTS)
    for result, probs in zip(got, want):
        assert_matches(result, probs)
    assert len({r['label'] for r in got}) > 1        # the texts do not all get one answer


def test_module_call_one_text_and_a_batch_in_order(classifier, reference):
    one = classifier('I love it')
    assert set(one) == {'label', 'score', 'scores'}
    assert_matches(one, reference(['I love it'])[0])
    assert abs(sum(one['scores'].values()) - 1) < TOL          # softmax
    batch = classifier(TEXTS)
    backwards = classifier(TEXTS[::-1])
    for result, probs in zip(batch, reference(TEXTS)):
        assert_matches(result, probs)
    for result, probs in zip(backwards, reference(TEXTS[::-1])):
        assert_matches(result, probs)
    assert [r['label'] for r in backwards] == [r['label'] for r in batch[::-1]]


def test_async_and_stream_give_the_call_answer(classifier):
    import asyncio
    assert asyncio.run(classifier.acall('I love it')) == classifier('I love it')
    assert list(classifier.stream(TEXTS)) == [classifier(TEXTS)]   # one answer, no text stream
    assert classifier.supports_streaming is False


def test_concurrent_requests_each_get_their_own_answers(classifier, reference):
    want = dict(zip(TEXTS, reference(TEXTS)))
    shifted = [TEXTS[k:] + TEXTS[:k] for k in range(len(TEXTS))]
    with cf.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(classifier, shifted * 2))
    for texts, got in zip(shifted * 2, answers):
        for text, result in zip(texts, got):
            assert_matches(result, want[text])


def test_wire_shape_is_vllms(classifier, reference):
    root = classifier.url[:-len('/v1/')]
    for path in ('/classify', '/v1/classify'):
        answer = httpx.post(root + path, json={'model': classifier.deployment.served_name,
                                               'input': TEXTS[:2]}, timeout=60)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body['id'].startswith('classify-') and body['object'] == 'list'
        assert body['model'] == classifier.deployment.served_name
        assert isinstance(body['created'], int) and body['labels'] == LABELS
        assert [d['index'] for d in body['data']] == [0, 1]
        for item, probs in zip(body['data'], reference(TEXTS[:2])):
            assert item['num_classes'] == 3 and len(item['probs']) == 3
            assert item['label'] == LABELS[max(range(3), key=probs.__getitem__)]
            assert all(abs(a - b) < TOL for a, b in zip(item['probs'], probs))
        tokens = sum(len(reference.tokenizer(t)['input_ids']) for t in TEXTS[:2])
        assert body['usage'] == {'prompt_tokens': tokens, 'total_tokens': tokens,
                                 'completion_tokens': 0, 'prompt_tokens_details': None}
        assert answer.headers['x-lazyllm-truncated-inputs'] == '0'
    one = httpx.post(root + '/classify', json={'input': 'hello'}, timeout=60).json()
    assert len(one['data']) == 1 and one['data'][0]['index'] == 0
    card = httpx.get(classifier.url + 'models', timeout=10).json()['data'][0]
    assert card['kind'] == 'classify' and card['max_model_len'] == MAX_LENGTH
    assert httpx.get(root + '/health', timeout=10).json()['kind'] == 'classify'


def test_too_long_text_is_truncated_not_refused(classifier, reference):
    long_text = 'The weather today is sunny with a light breeze from the west. ' * 40
    assert len(reference.tokenizer(long_text)['input_ids']) > MAX_LENGTH
    assert_matches(classifier(long_text), reference([long_text])[0])    # cut at MAX_LENGTH
    answer = httpx.post(classifier.url[:-len('/v1/')] + '/classify',
                        json={'input': [long_text, 'hello']}, timeout=60)
    assert answer.status_code == 200
    assert answer.headers['x-lazyllm-truncated-inputs'] == '1'
    assert answer.json()['usage']['truncated_inputs'] == 1
    assert answer.json()['usage']['prompt_tokens'] == \
        MAX_LENGTH + len(reference.tokenizer('hello')['input_ids'])


@pytest.mark.parametrize('body, message', [
    ({'input': ''}, 'input is empty'),
    ({'input': []}, 'non-empty list'),
    ({'input': ['ok', '']}, 'input[1] is an empty string'),
    ({'input': ['ok', 5]}, 'input[1] must be a string'),
    ({'input': [[1, 2, 3]]}, 'token ids'),
    ({}, 'input is required'),
    (['a', 'b'], 'must be a JSON object'),
])
def test_bad_input_is_a_400_that_says_why(classifier, body, message):
    answer = httpx.post(classifier.url[:-len('/v1/')] + '/classify', json=body, timeout=60)
    assert answer.status_code == 400
    assert message in answer.json()['error']['message']


@pytest.mark.parametrize('value', ['', '   ', [], ['ok', ''], [3]])
def test_empty_input_is_an_input_error_before_any_request(classifier, value):
    with pytest.raises(InputError, match='classify input'):
        classifier(value)
