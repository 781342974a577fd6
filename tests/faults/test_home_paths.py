"""A path that starts with the home of an unknown user (``~nosuchuser/…``) is an InputError
naming the argument at every public place that takes a path, not pathlib's RuntimeError."""
import pytest

import lazyllm
from lazyllm.errors import InputError
from lazyllm.finetune._run import runs_root
from lazyllm.finetune._trainset import load_trainset

HOMELESS = '~nosuchuser-lazyllm/x'

CASES = {
    'AutoModel config=': lambda: lazyllm.AutoModel('some-model', config=HOMELESS),
    'set_specific_finetuned_model': lambda: lazyllm.TrainableModule(
        '/tmp').set_specific_finetuned_model(HOMELESS),
    'trainset': lambda: load_trainset(HOMELESS, 'llm'),
    'target_path': lambda: runs_root(HOMELESS),
    'transformers adapters': lambda: lazyllm.deploy.transformers.validate(
        {'adapters': {'a': HOMELESS}}),
    'vllm chat_template': lambda: lazyllm.deploy.vllm.validate({'chat_template': HOMELESS}),
}


@pytest.mark.parametrize('where', sorted(CASES))
def test_an_unknown_home_is_an_input_error(where):
    with pytest.raises(InputError, match='nosuchuser-lazyllm.*full path'):
        CASES[where]()
