"""The parts of classification that need no server: type rules, the client's parser, the
engine's option table, and the engine's model wrapper run in this process."""
import argparse
import json
import shutil

import pytest

import lazyllm
from lazyllm.client._parse import ShapeError, parse_classify
from lazyllm.errors import InputError
from lazyllm.hub import ModelType, infer_type


def write_config(tmp_path, name, config, **extra):
    folder = tmp_path / name
    folder.mkdir()
    (folder / 'config.json').write_text(json.dumps(config))
    for fname, content in extra.items():
        (folder / fname.replace('__', '.')).write_text(json.dumps(content))
    return folder


@pytest.mark.parametrize('config, extra, expected', [
    ({'architectures': ['DistilBertForSequenceClassification'],
      'id2label': {'0': 'NEGATIVE', '1': 'POSITIVE'}}, {}, ModelType.CLASSIFY),
    ({'architectures': ['RobertaForSequenceClassification'], 'num_labels': 5}, {},
     ModelType.CLASSIFY),
    ({'architectures': ['BertForSequenceClassification'], 'num_labels': 1}, {},
     ModelType.RERANK),
    ({'architectures': ['XLMRobertaForSequenceClassification'], 'id2label': {'0': 'LABEL_0'}},
     {}, ModelType.RERANK),
    ({'architectures': ['BertForSequenceClassification'], 'id2label': {'0': 'L'}},
     {'modules__json': [], 'config_sentence_transformers__json': {'model_type': 'CrossEncoder'}},
     ModelType.RERANK),
    ({'architectures': ['BertModel'], 'model_type': 'bert'}, {}, ModelType.EMBED),
])
def test_sequence_classifiers_with_several_labels_classify(tmp_path, config, extra, expected):
    assert infer_type(write_config(tmp_path, 'plain', config, **extra)) == expected


def test_model_type_parses():
    assert ModelType.parse('CLASSIFY') is ModelType.CLASSIFY


def test_engine_table_checks_options():
    engine = lazyllm.deploy.classify
    assert engine.serves(ModelType.CLASSIFY) and not engine.serves(ModelType.RERANK)
    assert engine.validate({'max_length': 64, 'device': 'cpu'}) == {'max_length': 64,
                                                                      'device': 'cpu'}
    with pytest.raises(InputError, match='valid options'):
        engine.validate({'normalize': 'true'})
    argv = engine.argv('/m', host='127.0.0.1', port=1, served_name='m',
                       options={'max_length': 64, 'trust_remote_code': True})
    assert argv[3:5] == ['classify', '--model']
    assert argv[-3:] == ['--max-length', '64', '--trust-remote-code']


def test_parser_reads_vllm_and_lazyllm_answers():
    vllm = {'data': [{'index': 1, 'label': 'Default', 'probs': [0.4, 0.6], 'num_classes': 2},
                     {'index': 0, 'label': 'Other', 'probs': [0.7, 0.3], 'num_classes': 2}]}
    first, second = parse_classify(vllm, count=2)      # back in input order
    assert first == {'label': 'Other', 'score': 0.7, 'scores': {'Other': 0.7, 'LABEL_1': 0.3}}
    assert second['label'] == 'Default' and second['scores'] == {'LABEL_0': 0.4, 'Default': 0.6}
    ours = dict(vllm, labels=['neg', 'pos'])
    ours['data'][0]['label'] = 'pos'
    ours['data'][1]['label'] = 'neg'
    assert parse_classify(ours, count=2)[0] == {'label': 'neg', 'score': 0.7,
                                                'scores': {'neg': 0.7, 'pos': 0.3}}
    with pytest.raises(ShapeError, match='3 input.s. were sent but 2'):
        parse_classify(vllm, count=3)
    with pytest.raises(ShapeError, match='expected'):
        parse_classify({'results': []}, count=1)


def test_client_posts_beside_the_v1_base():
    from lazyllm.client import Client
    with Client('http://127.0.0.1:9/v1/') as c:
        assert str(c._classify_call('x', None, {}).url) == 'http://127.0.0.1:9/classify'
    with Client('http://127.0.0.1:9/api/') as c:          # another prefix: kept
        assert str(c._classify_call('x', None, {}).url) == 'http://127.0.0.1:9/api/classify'


# -- the engine's model wrapper, in this process ----------------------------------------------

def engine_args(folder, **kw):
    values = dict(model=str(folder), device='cpu', dtype='auto', batch_size=4, max_length=None,
                  trust_remote_code=False)
    values.update(kw)
    return argparse.Namespace(**values)


def test_multi_label_models_get_sigmoid_and_limits_are_checked(classifier_path, tmp_path):
    pytest.importorskip('fastapi')
    import torch

    from lazyllm.deploy.servers.classify import Classifier
    folder = tmp_path / 'multi'
    shutil.copytree(classifier_path, folder)
    config = json.loads((folder / 'config.json').read_text())
    (folder / 'config.json').write_text(json.dumps(
        dict(config, problem_type='multi_label_classification')))
    classifier = Classifier.load(engine_args(folder))
    assert classifier.multi_label and classifier.labels == ['NEGATIVE', 'NEUTRAL', 'POSITIVE']
    assert classifier.limit == 128                       # the tokenizer's model_max_length
    features = classifier.tokenizer(['hello', 'rain'], padding=True, return_tensors='pt')
    with torch.no_grad():
        want = torch.sigmoid(classifier.model(**features).logits).tolist()
    got = classifier(['hello', 'rain'])
    assert [n for _, n in got] == [len(classifier.tokenizer(t)['input_ids'])
                                   for t in ('hello', 'rain')]
    for (probs, _), expected in zip(got, want):
        assert all(abs(a - b) < 1e-5 for a, b in zip(probs, expected))
    with pytest.raises(ValueError, match='--max-length must be from 1 to 128'):
        Classifier.load(engine_args(classifier_path, max_length=4096))


def test_a_one_label_model_is_sent_to_the_rerank_engine(reranker_path):
    pytest.importorskip('fastapi')
    from lazyllm.deploy.servers.classify import Classifier
    with pytest.raises(ValueError, match='lazyllm.deploy.rerank'):
        Classifier.load(engine_args(reranker_path))
