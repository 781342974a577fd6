"""LoRA through TrainableModule.update(): train, merge, serve with the built-in engine; the
served greedy answer to a trained prompt moves to the target."""
from __future__ import annotations

import json

import pytest

import lazyllm
from tests.support.lora_task import (
    SMOLLM_OPTIONS,
    TARGET,
    TINY_OPTIONS,
    TRAINED_PROMPT,
    closeness,
    lora_task,
)

pytest.importorskip('peft')
GREEDY = dict(temperature=0, max_tokens=16)


def _finetuned(path, tmp_path, options):
    return (lazyllm.TrainableModule(str(path), target_path=str(tmp_path / 'runs'))
            .finetune_method(lazyllm.finetune.lora, **options)
            .trainset(lora_task()))


def test_tiny_model_loss_goes_down_and_the_served_answer_changes(tiny_llm_path, tmp_path):
    m = _finetuned(tiny_llm_path, tmp_path, TINY_OPTIONS)
    try:
        before = m.start()(TRAINED_PROMPT, **GREEDY)
        m.update()
        after = m(TRAINED_PROMPT, **GREEDY)
    finally:
        m.stop()
    metrics = json.loads((tmp_path / 'runs' / m.finetuned_model_path.rsplit('/', 1)[-1]
                          / 'metrics.json').read_text())
    assert metrics['final_loss'] < metrics['first_loss']
    assert after != before                       # the served weights are the new ones


def test_smollm2_learns_the_answer_and_its_shares_follow(smollm_path, tmp_path):
    m = _finetuned(smollm_path, tmp_path, SMOLLM_OPTIONS)
    terse = m.share(stream=True)
    try:
        before = m.start()(TRAINED_PROMPT, **GREEDY)
        m.update()
        after = m(TRAINED_PROMPT, **GREEDY)
        streamed = terse(TRAINED_PROMPT, **GREEDY)
    finally:
        m.stop()
    assert closeness(after, TARGET) > closeness(before, TARGET)
    assert after.startswith('The secret password is')
    assert streamed == after
    assert (tmp_path / 'runs').joinpath(m.finetuned_model_path.rsplit('/', 1)[-1],
                                        'model.safetensors').is_file()
