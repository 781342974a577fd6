"""LoRA adapters loaded into and unloaded from a RUNNING vLLM engine (launched with
``enable_lora=True``): same process (no restart), the adapter is served by name and is the
default of every call, shares made before included; unloading goes back to the base model.
One engine for the whole module; each test leaves it with no adapter loaded."""
import pytest

import lazyllm
from tests.deploy.vllm.test_vllm_lora import (
    PROMPT,
    RANK,
    greedy_transformers,
    greedy_vllm,
    write_adapter,
)

ASK = {'temperature': 0, 'max_tokens': 8}


@pytest.fixture(scope='module')
def adapter(tiny_llm_vllm_path, tmp_path_factory):
    """The random adapter of test_vllm_lora, in a folder named 'sql'."""
    out = tmp_path_factory.mktemp('lora') / 'sql'
    out.mkdir()
    return out, write_adapter(tiny_llm_vllm_path, out)


@pytest.fixture(scope='module')
def served(vllm_python, tiny_llm_vllm_path, server_options, timed_start):
    options = dict(server_options, max_model_len=512, enable_lora=True, max_lora_rank=RANK)
    m = lazyllm.TrainableModule(str(tiny_llm_vllm_path)).deploy_method(
        lazyllm.deploy.vllm, python=vllm_python, **options)
    timed_start(m, 'tiny-qwen2+runtime-lora')
    yield m
    m.stop()


@pytest.fixture
def engine(served):
    """The shared engine; adapters a test loaded are unloaded after it."""
    yield served
    for name in list(served.deployment.options.get('lora') or {}):
        served.unload_adapter(name)


def test_load_adapter_into_the_running_engine(engine, adapter, tiny_llm_vllm_path):
    m, base = engine, engine.deployment.served_name
    pid, before = m.deployment.job.pid, m.share(**ASK)
    assert 'sql' not in m.deployment.client().models()
    m.load_adapter('sql', adapter[0])
    assert m.deployment.job.pid == pid                      # the same engine: no restart
    assert set(m.deployment.client().models()) >= {base, 'sql'}
    lora = greedy_vllm(m, 'sql')                            # the adapter's weights apply
    assert lora == greedy_transformers(tiny_llm_vllm_path, adapter[1])
    assert lora != greedy_vllm(m, base)
    answer = m(PROMPT, **ASK)                               # calls use it by default
    assert answer == m.share(adapter='sql', **ASK)(PROMPT)
    assert answer != m.share(adapter=base, **ASK)(PROMPT)
    assert before(PROMPT) == answer                         # shares made before follow


def test_unload_adapter_goes_back_to_the_base(engine, adapter):
    m, base = engine, engine.deployment.served_name
    plain = m(PROMPT, **ASK)
    m.load_adapter('sql', adapter[0])
    pid = m.deployment.job.pid
    assert m(PROMPT, **ASK) != plain
    m.unload_adapter('sql')
    assert m.deployment.job.pid == pid
    assert 'sql' not in m.deployment.client().models()
    assert m(PROMPT, **ASK) == plain == m.share(adapter=base, **ASK)(PROMPT)


def test_unload_of_an_unknown_adapter_names_the_known_ones(engine, adapter):
    engine.load_adapter('sql', adapter[0])
    with pytest.raises(lazyllm.errors.InputError, match=r"'nope'.*adapters: sql"):
        engine.unload_adapter('nope')
    assert 'sql' in engine.deployment.client().models()


def test_set_specific_finetuned_model_loads_an_adapter_folder(engine, adapter):
    """A folder with adapter_config.json is loaded as the adapter named after the folder."""
    m, pid = engine, engine.deployment.job.pid
    m.set_specific_finetuned_model(adapter[0])
    assert m.deployment.job.pid == pid
    assert 'sql' in m.deployment.client().models()
    assert m(PROMPT, **ASK) == m.share(adapter='sql', **ASK)(PROMPT)
