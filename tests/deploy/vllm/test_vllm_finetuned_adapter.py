"""LoRA finetuning with the vLLM engine: update() writes an adapter (not merged weights) and
vLLM serves it by name beside the base model; calls use it by default."""
from __future__ import annotations

import pytest

import lazyllm
from tests.support.lora_task import SMOLLM_OPTIONS, TARGET, TRAINED_PROMPT, closeness, lora_task

pytest.importorskip('peft')


def test_update_serves_the_adapter_through_vllm(smollm_path, vllm_python, server_options,
                                                tmp_path):
    m = (lazyllm.TrainableModule(str(smollm_path), target_path=str(tmp_path / 'runs'))
         .deploy_method(lazyllm.deploy.vllm, python=vllm_python, max_lora_rank=8,
                        **server_options)
         .finetune_method(lazyllm.finetune.lora, **SMOLLM_OPTIONS)
         .trainset(lora_task()))
    base = m.share()
    try:
        m.update()
        run = m.finetuned_model_path
        name = run.rsplit('/', 1)[-1]
        assert (tmp_path / 'runs' / name / 'adapter_config.json').is_file()
        assert not (tmp_path / 'runs' / name / 'model.safetensors').exists()
        served = m.deployment.client().models()
        assert name in served and smollm_path.name in served
        answer = m(TRAINED_PROMPT, temperature=0, max_tokens=16)
        assert closeness(answer, TARGET) > 0.8
        assert base(TRAINED_PROMPT, temperature=0, max_tokens=16) == answer   # shares follow
        plain = m.share(adapter=smollm_path.name)       # the base model stays selectable
        assert closeness(plain(TRAINED_PROMPT, temperature=0, max_tokens=16), TARGET) < 0.8
    finally:
        m.stop()
