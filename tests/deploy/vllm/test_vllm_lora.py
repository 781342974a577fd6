"""A LoRA adapter served by vLLM as a model name gives the same greedy output as the merged
weights in transformers. The adapter is written in PEFT's format (adapter_config.json +
adapter_model.safetensors) by the fixture, on the tiny Qwen2 whose head size (32) vLLM's CPU
attention takes."""
import json

import pytest

import lazyllm

PROMPT = 'The capital of France is'
RANK, ALPHA, TARGETS = 8, 16, ('q_proj', 'v_proj')


def write_adapter(base, out):
    """A random rank-8 PEFT LoRA of ``base`` on q_proj and v_proj, big enough to change the
    greedy answer, written into ``out``; returns its tensors."""
    import torch
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    gen = torch.Generator().manual_seed(0)
    tensors = {}
    for i, layer in enumerate(model.model.layers):
        for name in TARGETS:
            w = getattr(layer.self_attn, name).weight
            key = f'base_model.model.model.layers.{i}.self_attn.{name}'
            tensors[f'{key}.lora_A.weight'] = torch.randn(RANK, w.shape[1], generator=gen) * 0.3
            tensors[f'{key}.lora_B.weight'] = torch.randn(w.shape[0], RANK, generator=gen) * 0.3
    save_file(tensors, str(out / 'adapter_model.safetensors'))
    (out / 'adapter_config.json').write_text(json.dumps({
        'peft_type': 'LORA', 'task_type': 'CAUSAL_LM', 'r': RANK, 'lora_alpha': ALPHA,
        'lora_dropout': 0.0, 'target_modules': list(TARGETS), 'bias': 'none',
        'fan_in_fan_out': False, 'use_rslora': False, 'use_dora': False,
        'modules_to_save': None, 'base_model_name_or_path': str(base)}))
    return tensors


@pytest.fixture(scope='module')
def adapter(tiny_llm_vllm_path, tmp_path_factory):
    out = tmp_path_factory.mktemp('lora-sql')
    return out, write_adapter(tiny_llm_vllm_path, out)


def greedy_transformers(path, tensors=None, max_new_tokens=8):
    """Greedy continuation in-process; with tensors, the LoRA merged: W += alpha/r * B @ A."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    if tensors:
        with torch.no_grad():
            for i, layer in enumerate(model.model.layers):
                for name in TARGETS:
                    key = f'base_model.model.model.layers.{i}.self_attn.{name}'
                    delta = tensors[f'{key}.lora_B.weight'] @ tensors[f'{key}.lora_A.weight']
                    getattr(layer.self_attn, name).weight += ALPHA / RANK * delta
    ids = tok(PROMPT, return_tensors='pt').input_ids
    with torch.no_grad():
        out = model.generate(ids, do_sample=False, max_new_tokens=max_new_tokens,
                             min_new_tokens=max_new_tokens, eos_token_id=None, pad_token_id=0)
    return out[0, ids.shape[1]:].tolist()


@pytest.fixture(scope='module')
def served(vllm_python, tiny_llm_vllm_path, adapter, server_options, timed_start):
    options = dict(server_options, max_model_len=512, lora={'sql': str(adapter[0])},
                   max_lora_rank=RANK)
    m = lazyllm.TrainableModule(str(tiny_llm_vllm_path)).deploy_method(
        lazyllm.deploy.vllm, python=vllm_python, **options)
    timed_start(m, 'tiny-qwen2+lora')
    yield m
    m.stop()


def greedy_vllm(module, model):
    res = module.deployment.client().request('POST', 'completions', json={
        'model': model, 'prompt': PROMPT, 'temperature': 0, 'max_tokens': 8,
        'ignore_eos': True, 'return_token_ids': True})
    return res['choices'][0]['token_ids']


def test_adapter_is_served_as_a_model_name(served):
    ids = [c['id'] for c in served.deployment.client().request('GET', 'models')['data']]
    assert ids[0] == served.deployment.served_name and 'sql' in ids


def test_lora_greedy_output_matches_transformers(served, tiny_llm_vllm_path, adapter):
    base = greedy_vllm(served, served.deployment.served_name)
    lora = greedy_vllm(served, 'sql')
    assert base == greedy_transformers(tiny_llm_vllm_path)
    assert lora == greedy_transformers(tiny_llm_vllm_path, adapter[1])
    assert lora != base


def test_a_share_targets_the_adapter(served):
    """share(adapter=) sends the adapter's name as the model: same answer as asking for it."""
    ask = {'temperature': 0, 'max_tokens': 8}
    sql = served.share(adapter='sql', **ask)
    chat = [{'role': 'user', 'content': PROMPT}]
    direct = served.deployment.client().chat(chat, model='sql', **ask).content
    assert sql(PROMPT) == direct
    base = served.deployment.client().chat(chat, model=served.deployment.served_name,
                                           **ask).content
    assert served.share(**ask)(PROMPT) == base
    with pytest.raises(lazyllm.errors.InputError, match='adapter must be'):
        served.share(adapter='')
