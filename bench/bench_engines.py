"""Local engines against in-process baselines, measured in the same run.

    python bench/bench_engines.py                 # SmolLM2-135M + all-MiniLM-L6-v2
    python bench/bench_engines.py --quick         # tiny random Qwen2, fewer requests

Prints, each with its goal (goals are not asserted anywhere):
- LLM throughput: N concurrent chat requests to the built-in engine (dynamic batching),
  generated tokens/s, divided by the tokens/s of ONE batched ``model.generate`` of the same N
  prompts in this process (goal >= 0.8);
- embeddings: M concurrent single-sentence calls to the embedding engine vs one in-process
  ``encode`` of the M sentences (goal >= 0.7);
- module call vs a raw httpx POST of the same request to the same engine (goal <= 1.05x);
- shares: how many engine processes three shares of one module run (goal: 1).
The engine and the baseline run one after the other, never at the same time.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault('HF_HUB_OFFLINE', '1')

import httpx  # noqa: E402
from _chats import QUESTIONS, chats  # noqa: E402

import lazyllm  # noqa: E402
from tests.support import models, procs  # noqa: E402


def row(name: str, ours: str, base: str, ratio: float, goal: str, ok: bool) -> None:
    print(f'{name:<28}{ours:>18}{base:>18}{ratio:>9.3f}   {goal:<8}{"yes" if ok else "NO"}')


def bench_llm(path: Path, n: int, max_tokens: int) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    prompts = chats(n)
    llm = lazyllm.TrainableModule(path).deploy_method(lazyllm.deploy.transformers,
                                                      max_batch=n).start()
    try:
        client = llm.deployment.client()
        ask = (lambda m: client.chat(m, temperature=0, max_tokens=max_tokens,
                                     model=llm.deployment.served_name))
        ask(prompts[0])                                                # warm up
        t0 = time.perf_counter()
        with cf.ThreadPoolExecutor(n) as pool:
            answers = list(pool.map(ask, prompts))
        served = sum(a.usage['completion_tokens'] for a in answers) / (time.perf_counter() - t0)
        shares = [llm.share(prompt=p) for p in ('a', 'b', 'c')]
        for s in shares:
            s.start()
        engines = len(procs.engine_processes(llm))
        body = {'model': llm.deployment.served_name, 'messages': prompts[0],
                'max_tokens': 1, 'temperature': 0}
        url = llm.url + 'chat/completions'
        with httpx.Client() as raw:
            module_call = lambda: llm(QUESTIONS[0], max_tokens=1, temperature=0)  # noqa: E731
            raw_call = lambda: raw.post(url, json=body).json()  # noqa: E731
            ours, base = _interleaved(module_call, raw_call, 30)
    finally:
        llm.stop()
    tok = AutoTokenizer.from_pretrained(path)
    tok.padding_side = 'left'
    tok.pad_token = tok.pad_token or tok.eos_token
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    texts = [tok.apply_chat_template(m, tokenize=False, add_generation_prompt=True)
             for m in prompts]
    batch = tok(texts, return_tensors='pt', padding=True, add_special_tokens=False)
    with torch.inference_mode():
        model.generate(**batch, max_new_tokens=2, do_sample=False)     # warm up
        t0 = time.perf_counter()
        out = model.generate(**batch, max_new_tokens=max_tokens, do_sample=False)
        took = time.perf_counter() - t0
    new = out[:, batch['input_ids'].shape[1]:]
    made = int((new != tok.pad_token_id).sum()) if tok.pad_token_id is not None else new.numel()
    inproc = made / took
    row(f'LLM {n} concurrent tok/s', f'{served:.1f}', f'{inproc:.1f}', served / inproc,
        '>= 0.8', served / inproc >= 0.8)
    row('module call vs raw HTTP', f'{ours * 1e3:.1f}ms', f'{base * 1e3:.1f}ms', ours / base,
        '<= 1.05', ours / base <= 1.05)
    row('engines for 3 shares', str(engines), '1', engines, '== 1', engines == 1)


def bench_embed(path: Path, m: int) -> None:
    from sentence_transformers import SentenceTransformer
    sentences = [f'{QUESTIONS[i % len(QUESTIONS)]} (variant {i})' for i in range(m)]
    emb = lazyllm.TrainableModule(path).start()
    try:
        emb(sentences[0])
        t0 = time.perf_counter()
        with cf.ThreadPoolExecutor(min(m, 32)) as pool:
            list(pool.map(emb, sentences))
        served = time.perf_counter() - t0
    finally:
        emb.stop()
    model = SentenceTransformer(str(path), device='cpu')
    model.encode(sentences[:2])
    t0 = time.perf_counter()
    model.encode(sentences)
    inproc = time.perf_counter() - t0
    ratio = inproc / served
    row(f'embed {m} concurrent', f'{served * 1e3:.0f}ms', f'{inproc * 1e3:.0f}ms', ratio,
        '>= 0.7', ratio >= 0.7)


def _interleaved(a, b, n: int) -> tuple[float, float]:
    ta, tb = [], []
    for _ in range(n):
        for f, times in ((a, ta), (b, tb)):
            t0 = time.perf_counter()
            f()
            times.append(time.perf_counter() - t0)
    return statistics.median(ta), statistics.median(tb)




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--quick', action='store_true', help='tiny models, few requests')
    args = parser.parse_args()
    print(f'{"measure":<28}{"lazyllm":>18}{"in-process/raw":>18}{"ratio":>9}   goal    ok')
    if args.quick:
        bench_llm(models.tiny_qwen2(), n=4, max_tokens=8)
        bench_embed(models.minilm_l6_v2(), m=8)
    else:
        bench_llm(models.smollm2_135m_instruct(), n=16, max_tokens=32)
        bench_embed(models.minilm_l6_v2(), m=64)


if __name__ == '__main__':
    main()
