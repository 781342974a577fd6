"""Several LoRA adapters on one base in the built-in transformers engine (adapters=), over
real HTTP, on the tiny random Qwen2 with two real peft adapters.

The adapters are peft LoRA folders made with ``init_lora_weights=False`` (random, non-zero
A and B, different seeds): no training needed for their greedy answers to differ from the
base's and from each other. Every served answer is compared with the same greedy decoding
done in this process with peft: the adapter alone, and ``add_weighted_adapter`` with the
same weights and combination type for the default (mixed) calls.
"""
from __future__ import annotations

import concurrent.futures as cf
import json
from pathlib import Path

import httpx
import pytest

import lazyllm
from lazyllm.client import Client
from lazyllm.errors import DeployError, InputError, OnlineAPIError
from tests.support.lora_adapters import random_lora

pytest.importorskip('peft')

WEIGHTS = {'a': 0.7, 'b': 0.3}
PROMPTS = ['hi', 'the quick brown fox', 'tell me a story']
MAX_TOKENS = 12


@pytest.fixture(scope='module')
def adapter_paths(tiny_llm_path, tmp_path_factory):
    root = tmp_path_factory.mktemp('adapters')
    return {name: random_lora(str(tiny_llm_path), root / name, seed)
            for name, seed in (('a', 1), ('b', 2))}


@pytest.fixture(scope='module')
def served(tiny_llm_path, adapter_paths):
    m = lazyllm.TrainableModule(tiny_llm_path).deploy_method(
        lazyllm.deploy.transformers, max_batch=8,
        adapters={n: (p, WEIGHTS[n]) for n, p in adapter_paths.items()}).start()
    yield m
    m.stop()


@pytest.fixture(scope='module')
def client(served):
    with Client(served.url) as c:
        yield c


class Reference:
    """Greedy answers computed in this process with peft (no cache, full forward per token:
    an independent decoder from the engine's batched one)."""

    def __init__(self, base: str, paths: dict):
        import torch
        from peft import PeftModel
        from transformers import AutoModelForCausalLM, AutoTokenizer
        self.torch, self.tok = torch, AutoTokenizer.from_pretrained(base)
        load = lambda: AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32).eval()  # noqa: E731
        self.models = {'base': load()}
        for name, path in paths.items():    # each adapter alone, on a fresh base
            self.models[name] = PeftModel.from_pretrained(load(), path).eval()
        mix = PeftModel.from_pretrained(load(), paths['a'], adapter_name='a')
        mix.load_adapter(paths['b'], adapter_name='b')
        mix.add_weighted_adapter(list(WEIGHTS), list(WEIGHTS.values()), 'mix',
                                 combination_type='cat')
        mix.set_adapter('mix')
        self.models['mix'] = mix.eval()
        gen = self.models['base'].generation_config
        self.eos = {gen.eos_token_id, self.tok.eos_token_id} - {None}

    def answer(self, which: str, prompt: str) -> str:
        text = self.tok.apply_chat_template([{'role': 'user', 'content': prompt}],
                                            tokenize=False, add_generation_prompt=True)
        ids = self.tok.encode(text, add_special_tokens=False)
        model, out = self.models[which], []
        with self.torch.inference_mode():
            for _ in range(MAX_TOKENS):
                logits = model(input_ids=self.torch.tensor([ids + out])).logits[0, -1]
                token = int(logits.argmax())
                if token in self.eos:
                    break
                out.append(token)
        return self.tok.decode(out, skip_special_tokens=True)


@pytest.fixture(scope='module')
def reference(tiny_llm_path, adapter_paths):
    return Reference(str(tiny_llm_path), adapter_paths)


def _ask(module, prompt):
    return module(prompt, temperature=0, max_tokens=MAX_TOKENS)


def test_models_lists_the_mix_first_then_the_base_and_each_adapter(served, client):
    base = served.deployment.served_name
    cards = client.request('GET', 'models')['data']
    assert [c['id'] for c in cards] == ['combined', base, 'a', 'b']
    assert cards[0]['adapters'] == WEIGHTS and cards[0]['combination_type'] == 'cat'
    assert all(c['kind'] == 'llm' and c['max_model_len'] for c in cards)
    assert cards[2]['parent'] == base


def test_each_adapter_answers_as_peft_does(served, reference):
    for name in ('a', 'b'):
        share = served.share(adapter=name)
        assert [_ask(share, p) for p in PROMPTS] == \
            [reference.answer(name, p) for p in PROMPTS]


def test_default_calls_use_the_weighted_mix(served, reference, client):
    mixed = [_ask(served, p) for p in PROMPTS]
    assert mixed == [reference.answer('mix', p) for p in PROMPTS]
    answer = client.chat([{'role': 'user', 'content': PROMPTS[0]}], model='combined',
                         temperature=0, max_tokens=MAX_TOKENS)
    assert answer.content == mixed[0]


def test_the_base_is_reached_by_its_served_name(served, reference):
    base = served.share(adapter=served.deployment.served_name)
    answers = [_ask(base, p) for p in PROMPTS]
    assert answers == [reference.answer('base', p) for p in PROMPTS]
    # the four models really differ, or the comparisons above would prove nothing
    per_model = {w: tuple(reference.answer(w, p) for p in PROMPTS)
                 for w in ('base', 'a', 'b', 'mix')}
    assert len(set(per_model.values())) == 4, per_model


def test_concurrent_requests_for_different_adapters_get_their_own(served, client):
    base = served.deployment.served_name
    names = ['combined', base, 'a', 'b']

    def ask(job):
        name, prompt = job
        return client.chat([{'role': 'user', 'content': prompt}], model=name,
                           temperature=0, max_tokens=MAX_TOKENS).content

    jobs = [(names[i % 4], PROMPTS[i % len(PROMPTS)]) for i in range(12)]
    sequential = [ask(j) for j in jobs]
    root = served.url.rsplit('/v1/', 1)[0]
    before = httpx.get(root + '/stats').json()
    with cf.ThreadPoolExecutor(8) as pool:
        together = list(pool.map(ask, jobs))
    assert together == sequential
    after = httpx.get(root + '/stats').json()
    assert after['requests'] - before['requests'] == 12


def test_an_unknown_model_name_is_a_404_listing_the_served_ones(client):
    with pytest.raises(OnlineAPIError, match="serves 'combined', 'tiny-qwen2', 'a', 'b'") as info:
        client.chat([{'role': 'user', 'content': 'hi'}], model='nope', max_tokens=2)
    assert info.value.status == 404


# -- checks before launch -------------------------------------------------------------------
def _module(tiny_llm_path, **options):
    return lazyllm.TrainableModule(tiny_llm_path).deploy_method(lazyllm.deploy.transformers,
                                                                **options)


def test_a_bare_path_means_weight_one(adapter_paths):
    opts = lazyllm.deploy.transformers.validate({'adapters': {'a': adapter_paths['a']}})
    assert opts['adapters'] == {'a': (adapter_paths['a'], 1.0)}
    argv = lazyllm.deploy.transformers.flags(opts)
    assert argv == ['--adapter', 'a', '1.0', adapter_paths['a']]


@pytest.mark.parametrize('adapters, message', [
    ({'a b': '/x'}, 'not a valid adapter name'),
    ({'combined': '/x'}, 'weighted mix'),
    ({'a': ('/x', 'heavy')}, 'must be a finite number'),
    ({'a': ('/x', 0.5, 1)}, r'a \(path, weight\) pair'),
    ({'a': 3}, 'must be a str'),
    ({}, 'non-empty dict'),
])
def test_bad_adapter_options_fail_at_deploy_method(tiny_llm_path, adapters, message):
    with pytest.raises(InputError, match=message):
        _module(tiny_llm_path, adapters=adapters)


def test_adapter_mix_without_adapters_is_refused(tiny_llm_path):
    with pytest.raises(InputError, match='needs adapters='):
        _module(tiny_llm_path, adapter_mix='linear')


def _start_fails(m, match):
    with pytest.raises(DeployError, match=match):
        m.start()
    assert m.deployment.job is None           # refused before any process was launched


def test_bad_adapter_folders_fail_before_launch(tiny_llm_path, adapter_paths, tmp_path):
    _start_fails(_module(tiny_llm_path, adapters={'a': str(tmp_path / 'missing')}),
                 r'is not a folder: pass the folder a LoRA finetune wrote')
    _start_fails(_module(tiny_llm_path, adapters={'a': str(tiny_llm_path)}),
                 r'no adapter_config.json, so it is not a peft adapter folder')
    name = Path(tiny_llm_path).name
    _start_fails(_module(tiny_llm_path, adapters={name: adapter_paths['a']}),
                 "is the base model's served name.*rename the adapter")


def test_an_adapter_for_another_base_is_refused(tiny_llm_path, adapter_paths, tmp_path):
    import torch
    from safetensors.torch import save_file
    other = tmp_path / 'other'
    other.mkdir()
    cfg = json.loads((Path(adapter_paths['a']) / 'adapter_config.json').read_text())
    (other / 'adapter_config.json').write_text(json.dumps(cfg))
    key = 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight'
    save_file({key: torch.zeros(4, 128)}, str(other / 'adapter_model.safetensors'))
    _start_fails(_module(tiny_llm_path, adapters={'x': str(other)}),
                 r"does not fit the base.*shape \[4, 128\].*pass an adapter trained on this base")
