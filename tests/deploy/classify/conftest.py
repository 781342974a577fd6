"""The tiny three-label classifier (tests/support/classifier.py) and one classify deployment
of it, started through TrainableModule (the engine is auto-picked from the folder's type),
shared by the module that asks for it."""
import pytest

from tests.support.classifier import tiny_classifier

MAX_LENGTH = 16     # small, so that a sentence or two is already "too long"


@pytest.fixture(scope='session')
def classifier_path():
    for module in ('torch', 'transformers', 'tokenizers', 'fastapi', 'uvicorn'):
        pytest.importorskip(module, reason=f'{module} is not installed: install the model '
                                           'packages with `.ci/install-models.sh VENV`')
    return tiny_classifier()


@pytest.fixture(scope='module')
def classifier(classifier_path):
    """A started TrainableModule serving the tiny classifier (auto engine, max_length 16)."""
    import lazyllm
    m = lazyllm.TrainableModule(classifier_path).deploy_method(max_length=MAX_LENGTH,
                                                               batch_size=8)
    m.start()
    yield m
    m.stop()


@pytest.fixture(scope='module')
def reference(classifier_path):
    """The same model in this process with plain transformers: texts -> softmax(logits)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    tok = AutoTokenizer.from_pretrained(classifier_path)
    model = AutoModelForSequenceClassification.from_pretrained(classifier_path).eval()

    def probs(texts, max_length=MAX_LENGTH):
        features = tok(texts, padding=True, truncation=True, max_length=max_length,
                       return_tensors='pt')
        with torch.no_grad():
            return torch.softmax(model(**features).logits, dim=-1).tolist()
    probs.tokenizer, probs.model = tok, model
    return probs
