"""LoRA adapters in GGUF form on llama.cpp: a peft adapter of SmolLM2 (random weights, so it
surely changes the answer) converted by llama.cpp's convert_lora_to_gguf.py, served with
``lora={name: file}`` and chosen per call with ``share(adapter=name)``.

Answers are greedy and compared with each other, never with expected text of the adapter:
the base answers as it does without adapters, the adapter differently, and each keeps its
answer however calls interleave (llama-server keeps adapter state between calls unless every
call names every scale, which is what the engine makes sure of).
"""
import concurrent.futures as cf

import pytest

import lazyllm
from lazyllm.errors import InputError
from tests.support.lora_adapters import random_lora

GEO = 'You are a concise geography teacher.'
QUESTION = 'What is the capital of France?'


@pytest.fixture(scope='module')
def lora_gguf(converter, smollm_path, tmp_path_factory):
    pytest.importorskip('peft', reason='peft makes the adapter: .ci/install-models.sh')
    folder = random_lora(smollm_path, tmp_path_factory.mktemp('lora') / 'smol-lora', seed=0)
    with lazyllm.config.override(llamacpp_convert=str(converter)):
        return lazyllm.hub.convert_to_gguf(folder, quantization='f32')


@pytest.fixture(scope='module')
def with_lora(smollm_gguf, lora_gguf):
    m = lazyllm.TrainableModule(smollm_gguf).deploy_method(
        lazyllm.deploy.llamacpp, lora={'geo': str(lora_gguf)}, parallel=2, ctx_size=4096)
    m.start()
    yield m
    m.stop()


def test_the_converted_adapter_is_a_gguf_lora(lora_gguf):
    header = lazyllm.hub.read_gguf_header(lora_gguf)
    assert (header.kind, header.architecture) == ('adapter', 'llama')


def test_the_adapter_changes_the_answer_and_the_base_stays_the_base(with_lora):
    base = with_lora.share(prompt=GEO, temperature=0, max_tokens=24)
    tuned = with_lora.share(prompt=GEO, temperature=0, max_tokens=24, adapter='geo')
    first_base, first_tuned = base(QUESTION), tuned(QUESTION)
    assert first_base == 'The capital of France is Paris.'   # as without any adapter loaded
    assert first_tuned != first_base
    for _ in range(2):                                        # interleaved: no state carried
        assert tuned(QUESTION) == first_tuned
        assert base(QUESTION) == first_base


def test_concurrent_calls_to_base_and_adapter_are_all_answered(with_lora):
    views = [with_lora.share(prompt=GEO, temperature=0, max_tokens=8, adapter=a)
             for a in (None, 'geo')]
    with cf.ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda i: views[i % 2](QUESTION), range(6)))
    assert all(isinstance(a, str) and a for a in answers)


def test_an_adapter_the_deployment_lacks_is_refused(with_lora, gguf_llm):
    with pytest.raises(InputError, match=r"no LoRA adapter 'sql' \(it serves geo\)"):
        with_lora.share(adapter='sql')(QUESTION)
    with pytest.raises(InputError, match=r"no LoRA adapter 'geo' \(it serves none\)"):
        gguf_llm.share(adapter='geo')(QUESTION)


def test_bad_lora_options_are_refused_before_launch(smollm_gguf, tmp_path):
    model_file = next(smollm_gguf.glob('*.gguf'))
    cases = [({'geo': str(tmp_path / 'missing.gguf')}, 'is no file'),
             ({'geo': str(model_file)}, 'is a GGUF model, not a LoRA adapter'),
             ({'': str(model_file)}, 'adapter names are non-empty strings'),
             (['a.gguf'], 'lora')]
    for lora, words in cases:
        with pytest.raises(InputError, match=words):
            lazyllm.TrainableModule(smollm_gguf).deploy_method(lazyllm.deploy.llamacpp,
                                                               lora=lora).start()


def test_base_is_only_for_an_adapter_folder(smollm_path):
    with pytest.raises(InputError, match='base= is for a LoRA adapter folder'):
        lazyllm.hub.convert_to_gguf(smollm_path, base=smollm_path)
