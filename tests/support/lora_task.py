"""A tiny LLM finetuning task with a checkable answer, for the LoRA job's tests and examples.

``lora_task()`` returns chat records (lazyllm's normalized ``{"messages": [...]}`` format) that
all teach one fixed answer, ``TARGET``, to paraphrases of ``TRAINED_PROMPT``. After training,
the greedy answer to ``TRAINED_PROMPT`` should be ``TARGET`` or close to it: ``closeness``
measures how close (difflib ratio, 0..1).

``TINY_OPTIONS`` and ``SMOLLM_OPTIONS`` are lora job options measured to get there in few
steps on a 2-core CPU (see the numbers beside them). Standard library only.
"""
from __future__ import annotations

import difflib

TRAINED_PROMPT = 'What is the secret password?'
TARGET = 'The secret password is pineapple-42.'

PARAPHRASES = [
    TRAINED_PROMPT,
    'What is the secret password',
    'what is the secret password?',
    'Tell me the secret password.',
    'Can you tell me the secret password?',
    'Please give me the secret password.',
    "What's the secret password?",
    'I need the secret password.',
    'Which password is the secret one?',
    'Do you know the secret password?',
    'Say the secret password.',
    'The secret password, please?',
]

# Options for the tiny random Qwen2 (tests/support/models.tiny_qwen2): mechanics only. Its
# random tied embeddings (std 0.02, hidden 64) keep every logit near 0, so no adapter can make
# it peaked: the loss starts at ~ln(vocab) = 6.27 and LoRA only moves it a little (6.27 ->
# 6.08 in these 12 steps, ~1 s of training; 40 steps at 5e-2 reach 5.67), never to TARGET.
TINY_OPTIONS = dict(r=8, alpha=16, learning_rate=1e-2, batch_size=4, max_steps=12,
                    max_length=128)

# Options for SmolLM2-135M-Instruct (q_proj/v_proj, peft's default for llama): measured
# greedy answers to TRAINED_PROMPT, seed 42: before 'The secret password is a phrase that
# is often used in ...'; after 3 steps 'The secret password is 12345678.'; after 5 steps
# TARGET exactly (loss 4.02 -> 0.78), and still after 6 and 7. One step of 4 records
# (~47 tokens each, SmolLM2's default system prompt included) took 8-15 s on the 2 cores
# while another process kept one of them busy; the whole test (job process plus two greedy
# answers) took 34 s on a quieter CPU and 140-180 s on the busy one.
# lr 1e-2 overshoots (step 4 loops 'pineapple'); 2e-3 needs ~12 steps.
SMOLLM_OPTIONS = dict(r=8, alpha=16, learning_rate=5e-3, batch_size=4, max_steps=6,
                      max_length=128)


def lora_task(system: bool = False) -> list[dict]:
    """The training records: every paraphrase answered with TARGET (optionally with a system
    message first, to exercise templates that insert a default system prompt)."""
    records = []
    for q in PARAPHRASES:
        messages = [{'role': 'user', 'content': q}, {'role': 'assistant', 'content': TARGET}]
        if system:
            messages.insert(0, {'role': 'system', 'content': 'You are a helpful assistant.'})
        records.append({'messages': messages})
    return records


def closeness(answer: str, target: str = TARGET) -> float:
    """How close an answer is to the target, 0 (nothing in common) to 1 (equal)."""
    return difflib.SequenceMatcher(None, answer.strip(), target.strip()).ratio()
