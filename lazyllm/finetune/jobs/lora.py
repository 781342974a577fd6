"""LoRA finetuning of a causal LM on chat records (``python -m lazyllm.finetune.jobs.lora``).

The job (protocol: :mod:`._protocol`) reads ``{"messages": [...]}`` records, renders each one
with the tokenizer's chat template (a plain ChatML layout if it has none) and trains a peft
LoRA adapter with a plain torch loop (CPU float32 or the GPU, AdamW, constant learning rate),
on the tokens of the assistant replies only: everything else is labelled -100.

The spans of the replies come from templating the conversation prefix by prefix: the text of
``messages[:i]`` with the generation prompt is where reply ``i`` starts, the text of
``messages[:i + 1]`` is where it ends (its end-of-turn token included, trailing whitespace
not). A template that adds a default system prompt (SmolLM2's) adds it to every prefix alike.

Output: with ``merge`` the adapter is merged into the weights and ``output`` is a normal model
folder (safetensors, tokenizer with its chat template, generation config) that the built-in
engine and vLLM serve as is; without it ``output`` is a peft adapter folder
(``adapter_config.json`` naming the base folder, ``adapter_model.safetensors``) plus the
tokenizer, which vLLM serves through its ``lora`` option. ``output/metrics.json`` has the
losses, ``r``, ``alpha`` and what was trained.
"""
from __future__ import annotations

import inspect
import math
import random
import time
from pathlib import Path
from typing import Any

from ._protocol import JobConfig, JobError, Metrics, base_config, report, run_job

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
IGNORE = -100


def log(msg: str) -> None:
    print(f'lora: {msg}', flush=True)


def render(tok: Any, messages: list[dict], generation_prompt: bool = False) -> str:
    return tok.apply_chat_template(messages, tokenize=False,
                                   add_generation_prompt=generation_prompt)


def reply_spans(tok: Any, messages: list[dict]) -> tuple[str, list[tuple[int, int]]]:
    """The templated text of a conversation and the character spans of its assistant replies."""
    text = render(tok, messages)
    spans, cursor = [], 0
    for i, m in enumerate(messages):
        if m['role'] != 'assistant':
            continue
        start_text = render(tok, messages[:i], generation_prompt=True) if i else None
        end_text = render(tok, messages[:i + 1])
        if (start_text is not None and text.startswith(start_text)
                and text.startswith(end_text) and len(end_text) > len(start_text)):
            start, end = len(start_text), len(end_text)
        else:   # a template that rewrites earlier turns: find the reply in the full text
            start = text.find(m['content'], cursor)
            if start < 0:
                raise JobError(f'the chat template drops assistant message {i}: cannot find '
                               'its text in the templated conversation')
            end = start + len(m['content'])
            eos = tok.eos_token or ''
            if eos and text.startswith(eos, end):
                end += len(eos)
        while end > start and text[end - 1].isspace():
            end -= 1
        spans.append((start, end))
        cursor = end
    return text, spans


def encode(tok: Any, records: list[dict], max_length: int) -> list[dict]:
    """input_ids and labels (-100 outside the assistant replies) of every record."""
    fast = getattr(tok, 'is_fast', False)
    out, truncated = [], 0
    for n, rec in enumerate(records, 1):
        text, spans = reply_spans(tok, rec['messages'])
        if fast:
            enc = tok(text, add_special_tokens=False, return_offsets_mapping=True)
            ids = enc['input_ids']
            labels = [t if any(s <= a < e for s, e in spans) else IGNORE
                      for t, (a, _) in zip(ids, enc['offset_mapping'])]
        else:   # slow tokenizer: token counts of the text before/after each span
            ids, labels, pos = [], [], 0
            for s, e in spans:
                before = tok.encode(text[pos:s], add_special_tokens=False)
                reply = tok.encode(text[s:e], add_special_tokens=False)
                ids += before + reply
                labels += [IGNORE] * len(before) + reply
                pos = e
            rest = tok.encode(text[pos:], add_special_tokens=False)
            ids += rest
            labels += [IGNORE] * len(rest)
        if not any(x != IGNORE for x in labels):
            raise JobError(f'record {n}: no assistant tokens found in the templated text')
        if len(ids) > max_length:
            truncated += 1
            length = len(ids)
            ids, labels = ids[:max_length], labels[:max_length]
            if all(x == IGNORE for x in labels):
                raise JobError(f'record {n} of the trainset is {length} tokens long '
                               f'and max_length={max_length} cuts away all of its assistant '
                               'tokens: raise max_length or shorten the record')
        out.append({'input_ids': ids, 'labels': labels})
    if truncated:
        log(f'{truncated} of {len(records)} records truncated to max_length={max_length} tokens')
    return out


def collate(rows: list[dict], pad_id: int) -> dict:
    import torch
    width = max(len(r['input_ids']) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):   # right padding
        n = len(r['input_ids'])
        ids[i, :n] = torch.tensor(r['input_ids'])
        labels[i, :n] = torch.tensor(r['labels'])
        mask[i, :n] = 1
    return {'input_ids': ids, 'attention_mask': mask, 'labels': labels}


def step_loss(model: Any, batch: dict, keep: bool) -> Any:
    """Mean cross-entropy over the labelled tokens of a batch. With ``keep`` (models whose
    forward takes ``logits_to_keep``) the LM head runs only at the positions that predict a
    labelled token: the same loss, without batch x length x vocab logits."""
    import torch
    if not keep:
        return model(**batch).loss
    labels = batch['labels']
    targets = labels[:, 1:]
    pos = (targets != IGNORE).any(dim=0).nonzero().flatten()
    logits = model(input_ids=batch['input_ids'], attention_mask=batch['attention_mask'],
                   logits_to_keep=pos).logits
    return torch.nn.functional.cross_entropy(
        logits.float().reshape(-1, logits.shape[-1]), targets[:, pos].reshape(-1),
        ignore_index=IGNORE)


# ---------------------------------------------------------------------------- model

def linear_names(model: Any) -> list[str]:
    """The distinct names (last component) of the model's linear layers, lm_head excluded."""
    import torch
    names = {name.rsplit('.', 1)[-1] for name, mod in model.named_modules()
             if isinstance(mod, torch.nn.Linear)}
    names.discard('lm_head')
    return sorted(names)


def pick_targets(model: Any, wanted: list[str] | None) -> list[str]:
    names = linear_names(model)
    if wanted:
        modules = [name for name, _ in model.named_modules()]
        missing = [t for t in wanted
                   if not any(m == t or m.endswith('.' + t) for m in modules)]
        if missing:
            raise JobError(f'target_modules {missing} are not in the model '
                           f'({model.config.model_type}); its linear layers are: '
                           f'{", ".join(names)}')
        return list(wanted)
    from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING
    default = TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING.get(model.config.model_type)
    if default:
        return list(default)
    if not names:
        raise JobError(f'the model ({model.config.model_type}) has no linear layers to adapt')
    return names


def load_tokenizer(base: str) -> Any:
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(base)
    if not getattr(tok, 'chat_template', None):
        log('the tokenizer has no chat template: using a plain ChatML layout '
            '(<|im_start|>role\\ncontent<|im_end|>\\n), saved with the output')
        tok.chat_template = CHATML_TEMPLATE
        if tok.convert_tokens_to_ids('<|im_end|>') in (None, tok.unk_token_id):
            log('warning: <|im_end|> is not a token of this tokenizer; it is learnt as '
                'plain text, so generation will not stop on it')
    return tok


# ---------------------------------------------------------------------------- job

def main(cfg: JobConfig) -> None:
    if cfg.task != 'llm':
        raise JobError(f'the lora job trains causal LMs (task llm), not {cfg.task!r}')
    o = cfg.options
    metrics = Metrics()
    base_config(cfg.base)           # the cheap checks first, before torch is imported
    tok = load_tokenizer(cfg.base)
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    if pad_id is None:
        raise JobError('the tokenizer has neither a pad nor an eos token')
    rows = encode(tok, cfg.records(), o['max_length'])
    if not rows:
        raise JobError(f'the trainset {cfg.trainset} has no records')

    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, set_seed

    set_seed(o['seed'])
    random.seed(o['seed'])
    t0 = time.monotonic()
    model = AutoModelForCausalLM.from_pretrained(cfg.base, dtype=torch.float32)
    log(f'loaded {cfg.base} ({model.config.model_type}) in {time.monotonic() - t0:.1f} s')
    targets = pick_targets(model, o['target_modules'])
    lora = LoraConfig(r=o['r'], lora_alpha=o['alpha'], lora_dropout=o['dropout'],
                      target_modules=targets, task_type='CAUSAL_LM')
    model = get_peft_model(model, lora)
    trainable, total_params = model.get_nb_trainable_parameters()
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    model.to(device).train()

    per_epoch = math.ceil(len(rows) / o['batch_size'])
    steps = o['max_steps'] or o['epochs'] * per_epoch
    tokens = sum(sum(x != IGNORE for x in r['labels']) for r in rows)
    log(f'{len(rows)} records ({tokens} assistant tokens), {steps} steps of batch '
        f'{o["batch_size"]}, r={o["r"]} alpha={o["alpha"]} on {targets}: '
        f'{trainable:,} of {total_params:,} parameters trained on {device}')

    params = [p for p in model.parameters() if p.requires_grad]
    keep = 'logits_to_keep' in inspect.signature(model.get_base_model().forward).parameters
    t0 = time.monotonic()
    opt = torch.optim.AdamW(params, lr=o['learning_rate'], weight_decay=0.0)
    gen = torch.Generator().manual_seed(o['seed'])
    order: list[int] = []
    for step in range(1, steps + 1):
        if not order:
            order = torch.randperm(len(rows), generator=gen).tolist()
        batch_idx, order = order[:o['batch_size']], order[o['batch_size']:]
        batch = {k: v.to(device) for k, v in collate([rows[i] for i in batch_idx],
                                                      pad_id).items()}
        loss = step_loss(model, batch, keep)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        value = float(loss.detach())
        metrics.add(value)
        report(step, steps, value, round(step / per_epoch, 4))

    log(f'trained {steps} steps in {time.monotonic() - t0:.1f} s')
    t0 = time.monotonic()
    model.eval()
    out = Path(cfg.output)
    if o['merge']:
        merged = model.merge_and_unload()
        merged.save_pretrained(str(out), safe_serialization=True)
        if not (out / 'generation_config.json').is_file() and merged.generation_config:
            merged.generation_config.save_pretrained(str(out))
    else:
        model.peft_config['default'].base_model_name_or_path = cfg.base
        model.save_pretrained(str(out), safe_serialization=True)
    tok.save_pretrained(str(out))
    data = metrics.write(out, method='lora', r=o['r'], alpha=o['alpha'], merge=o['merge'],
                         target_modules=targets, records=len(rows), trained_tokens=tokens,
                         trainable_params=trainable)
    log(f'loss {data["first_loss"]:.4f} -> {data["final_loss"]:.4f} in {data["seconds"]} s; '
        f'wrote {"the merged model" if o["merge"] else "the adapter"} to {out} in '
        f'{time.monotonic() - t0:.1f} s')


if __name__ == '__main__':
    run_job(main)
