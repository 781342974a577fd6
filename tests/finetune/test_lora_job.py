"""The LoRA job process (lazyllm.finetune.jobs.lora): real training of real models, no mocks.

Each test writes a run folder (trainset.jsonl, job.json, empty output/) and runs
``python -m lazyllm.finetune.jobs.lora job.json`` as lazyllm's launcher would.
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from lazyllm.finetune import lora
from lazyllm.finetune.jobs._protocol import JobConfig, parse_error, parse_progress
from tests.support.lora_task import (
    TARGET,
    TINY_OPTIONS,
    TRAINED_PROMPT,
    lora_task,
)

pytest.importorskip('torch')
pytest.importorskip('transformers')
pytest.importorskip('peft')

ROOT = Path(__file__).resolve().parents[2]


def run_lora(tmp_path, base, records=None, timeout=300, **options):
    """Run the job on a fresh run folder; returns (completed process, output folder)."""
    run = tmp_path / 'run'
    run.mkdir()
    (run / 'output').mkdir()
    with open(run / 'trainset.jsonl', 'w', encoding='utf-8') as f:
        for rec in records if records is not None else lora_task():
            f.write(json.dumps(rec) + '\n')
    job = run / 'job.json'
    options = lora.validate({'merge': True, **options})
    JobConfig(task='llm', base=str(base), trainset=str(run / 'trainset.jsonl'),
              output=str(run / 'output'), options=options).save(job)
    proc = subprocess.run([sys.executable, '-m', 'lazyllm.finetune.jobs.lora', str(job)],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    return proc, run / 'output'


def progress(stdout):
    return [p for p in map(parse_progress, stdout.splitlines()) if p is not None]


def ok(proc):
    assert proc.returncode == 0, f'{parse_error(proc.stdout)}\n{proc.stdout}\n{proc.stderr}'


def greedy(model, tok, question=TRAINED_PROMPT, max_new_tokens=16):
    import torch
    inputs = tok.apply_chat_template([{'role': 'user', 'content': question}],
                                     add_generation_prompt=True, return_tensors='pt',
                                     return_dict=True)
    with torch.inference_mode():
        out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
    return tok.decode(out[0, inputs['input_ids'].shape[1]:], skip_special_tokens=True)


def load(folder):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    return (AutoModelForCausalLM.from_pretrained(str(folder)).eval(),
            AutoTokenizer.from_pretrained(str(folder)))


def test_tiny_merged(tmp_path, tiny_llm_path):
    import lazyllm
    proc, out = run_lora(tmp_path, tiny_llm_path, **TINY_OPTIONS)
    ok(proc)
    steps = progress(proc.stdout)
    total = TINY_OPTIONS['max_steps']
    assert [p['step'] for p in steps] == list(range(1, total + 1))
    assert all(p['total'] == total and p['loss'] > 0 for p in steps)
    metrics = json.loads((out / 'metrics.json').read_text())
    assert metrics['steps'] == total and metrics['r'] == TINY_OPTIONS['r']
    assert metrics['alpha'] == TINY_OPTIONS['alpha']
    assert metrics['final_loss'] < metrics['first_loss']
    assert [p['loss'] for p in steps] == pytest.approx(metrics['losses'])
    # a normal model folder: weights, tokenizer with the chat template, generation config
    assert (out / 'model.safetensors').is_file() and (out / 'generation_config.json').is_file()
    assert not (out / 'adapter_config.json').exists()
    assert lazyllm.hub.infer_type(out) == lazyllm.hub.ModelType.LLM
    model, tok = load(out)
    assert tok.chat_template and '<|im_start|>' in tok.chat_template
    assert 'lora' not in ' '.join(n for n, _ in model.named_parameters())
    assert isinstance(greedy(model, tok, max_new_tokens=4), str)


def test_tiny_adapter(tmp_path, tiny_llm_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM
    # epochs instead of max_steps: 12 records in batches of 4 = 3 steps
    proc, out = run_lora(tmp_path, tiny_llm_path, merge=False,
                         **{**TINY_OPTIONS, 'max_steps': None, 'epochs': 1})
    ok(proc)
    assert (out / 'adapter_config.json').is_file()
    assert (out / 'adapter_model.safetensors').is_file()
    assert not (out / 'model.safetensors').exists()
    config = json.loads((out / 'adapter_config.json').read_text())
    assert config['base_model_name_or_path'] == str(tiny_llm_path)
    assert config['r'] == TINY_OPTIONS['r'] and config['lora_alpha'] == TINY_OPTIONS['alpha']
    assert set(config['target_modules']) == {'q_proj', 'v_proj'}   # peft's qwen2 default
    base = AutoModelForCausalLM.from_pretrained(str(tiny_llm_path))
    model = PeftModel.from_pretrained(base, str(out))
    assert any('lora_B' in n for n, _ in model.named_parameters())
    assert json.loads((out / 'metrics.json').read_text())['steps'] == 3
    assert [p['epoch'] for p in progress(proc.stdout)] == pytest.approx([1 / 3, 2 / 3, 1], 1e-3)


def test_missing_base(tmp_path):
    proc, out = run_lora(tmp_path, tmp_path / 'no-such-model', timeout=120)
    assert proc.returncode != 0
    reason = parse_error(proc.stdout)
    assert 'no-such-model' in reason and 'does not exist' in reason
    assert not (out / 'metrics.json').exists()


def test_bad_target_modules(tmp_path, tiny_llm_path):
    proc, _ = run_lora(tmp_path, tiny_llm_path, target_modules=['query', 'v_proj'],
                       max_steps=1, timeout=120)
    assert proc.returncode != 0
    reason = parse_error(proc.stdout)
    assert "['query']" in reason
    for name in ('q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'):
        assert name in reason
    assert 'lm_head' not in reason


def test_reply_truncated_away(tmp_path, tiny_llm_path):
    records = lora_task()
    records.insert(2, {'messages': [{'role': 'user', 'content': 'word ' * 200},
                                    {'role': 'assistant', 'content': 'ok'}]})
    proc, _ = run_lora(tmp_path, tiny_llm_path, records=records, max_length=64, max_steps=1,
                       timeout=120)
    assert proc.returncode != 0
    reason = parse_error(proc.stdout)
    assert 'record 3' in reason and 'max_length' in reason


@pytest.mark.parametrize('model', ['tiny', 'smollm'])
def test_labels_cover_only_the_replies(model, request):
    """Only the assistant replies (and their end-of-turn token) are trained, also with
    SmolLM2's template, which inserts a default system prompt when there is none."""
    from transformers import AutoTokenizer

    from lazyllm.finetune.jobs.lora import IGNORE, encode
    folder = request.getfixturevalue('tiny_llm_path' if model == 'tiny' else 'smollm_path')
    tok = AutoTokenizer.from_pretrained(str(folder))
    chat = [{'role': 'system', 'content': 'Be brief.'}, {'role': 'user', 'content': 'hi'},
            {'role': 'assistant', 'content': 'hello'}, {'role': 'user', 'content': 'again'},
            {'role': 'assistant', 'content': 'yes again'}]
    rows = encode(tok, [lora_task()[0], {'messages': chat}], max_length=512)
    trained = [tok.decode([t for t, x in zip(r['input_ids'], r['labels']) if x != IGNORE])
               for r in rows]
    assert trained == [TARGET + '<|im_end|>', 'hello<|im_end|>yes again<|im_end|>']
    if model == 'smollm':
        assert 'You are a helpful AI assistant named SmolLM' in tok.decode(rows[0]['input_ids'])
