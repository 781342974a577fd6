"""Random (untrained) peft LoRA adapters of a base model, for tests and examples that need
adapter folders fast: ``init_lora_weights=False`` makes every adapter change the answers."""
from __future__ import annotations

from pathlib import Path

TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj']


def random_lora(base: str, out: Path, seed: int, r: int = 4) -> str:
    """A LoRA adapter of ``base`` with random non-zero weights, saved in ``out``."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    torch.manual_seed(seed)
    cfg = LoraConfig(r=r, lora_alpha=2 * r, target_modules=TARGETS, lora_dropout=0.0,
                     init_lora_weights=False, task_type='CAUSAL_LM')
    get_peft_model(model, cfg).save_pretrained(str(out))
    return str(out)
