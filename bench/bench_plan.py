"""The memory planner's estimate against the memory an engine really takes.

    python bench/bench_plan.py              # every case (vLLM ones when its venv is there)
    python bench/bench_plan.py --quick      # the tiny Qwen2 and MiniLM only (a smoke test)
    python bench/bench_plan.py --json       # one JSON object per case, for tests

For each case, one engine at a time: ``TrainableModule(model).deploy_method(engine,
**options).start()`` (``start()`` asks the planner first: ``deployment.memory_plan``), a
fixed load (4 concurrent greedy chats of 32 tokens; 32 texts to embed; 16 pairs to rerank),
then the engine's peak resident memory: the sum of ``VmHWM`` over every process below the
job's watchdog (vLLM runs two). Printed: the plan's estimate, the measured peak, and their
ratio (the planner's goal: within 0.8-1.2).

Cases: SmolLM2-135M-Instruct under transformers in float32 and in bfloat16 (which holds the
stored float32 weights while it converts them), the tiny Qwen2 (the engine's own memory
alone), MiniLM (embedding), the MiniLM cross-encoder (rerank), the Q4_1 GGUF of SmolLM2
under llama.cpp (when a server is installed), and vLLM on CPU with a given KV cache of
256 MiB, then with none given while another process holds ``--hold-gib`` GiB: the planner
sizes vLLM's KV cache and memory share to what is free (vLLM's own default, 92 % of all
memory, refuses to start then).
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault('HF_HUB_OFFLINE', '1')

import lazyllm  # noqa: E402
from tests.support import models  # noqa: E402
from tests.support.procs import engine_peak_mb, hold_memory  # noqa: E402

CHAT = 'What is the capital of France?'


def chat_load(module) -> None:
    with cf.ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: module(CHAT, max_tokens=32, temperature=0), range(4)))


def embed_load(module) -> None:
    module([f'sentence number {i} about cats and dogs' for i in range(32)])


def rerank_load(module) -> None:
    module('what is a cat', documents=[f'a cat is animal number {i}' for i in range(16)])


def cases(args: argparse.Namespace) -> list[tuple]:
    """(name, model folder factory, engine, options, load, GiB held meanwhile)."""
    small = {'max_model_len': 256}
    out = [('tiny Qwen2, transformers', models.tiny_qwen2, 'transformers', small, chat_load, 0),
           ('MiniLM, embedding', models.minilm_l6_v2, 'embedding', {}, embed_load, 0)]
    if args.quick:
        return out
    out += [
        ('SmolLM2 float32, transformers', models.smollm2_135m_instruct, 'transformers',
         {**small, 'dtype': 'float32'}, chat_load, 0),
        ('SmolLM2 bfloat16, transformers', models.smollm2_135m_instruct, 'transformers',
         {**small, 'dtype': 'bfloat16'}, chat_load, 0),
        ('cross-encoder, rerank', models.tiny_cross_encoder, 'rerank', {}, rerank_load, 0),
        ('SmolLM2 Q4_1 GGUF, llamacpp', models.smollm2_gguf, 'llamacpp', {'ctx_size': 2048},
         chat_load, 0)]
    if args.python and Path(args.python).exists():
        vllm = {'enforce_eager': True, 'max_model_len': 1024, 'python': args.python}
        out += [('SmolLM2, vLLM, KV 256 MiB', models.smollm2_135m_instruct, 'vllm',
                 {**vllm, 'kv_cache_memory_bytes': 256 << 20}, chat_load, 0),
                (f'SmolLM2, vLLM sized, {args.hold_gib:g} GiB held elsewhere',
                 models.smollm2_135m_instruct, 'vllm', vllm, chat_load, args.hold_gib)]
    return out


def measure(name, folder, engine, options, load, held) -> dict:
    options = dict(options)
    python = options.pop('python', None)
    holder = hold_memory(held) if held else None
    module = lazyllm.TrainableModule(str(folder())).deploy_method(
        getattr(lazyllm.deploy, engine), **({'python': python} if python else {}), **options)
    try:
        t0 = time.perf_counter()
        module.start()
        ready = time.perf_counter() - t0
        load(module)
        peak = engine_peak_mb(module)
        plan = module.deployment.memory_plan
        estimate = plan.need / 2**20
        return {'case': name, 'estimate_mb': round(estimate), 'peak_mb': round(peak),
                'ratio': round(estimate / peak, 3), 'ready_s': round(ready, 1),
                'options': {k: v for k, v in plan.options.items()
                            if k in ('kv_cache_memory_bytes', 'gpu_memory_utilization')}}
    finally:
        module.stop()
        if holder is not None:
            holder.kill()
            holder.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--quick', action='store_true', help='the two smallest cases only')
    parser.add_argument('--json', action='store_true', help='one JSON line per case')
    parser.add_argument('--python', default=os.environ.get('LAZYLLM_VLLM_PYTHON') or
                        str(ROOT / '.venv-vllm' / 'bin' / 'python'), help="vLLM's interpreter")
    parser.add_argument('--hold-gib', type=float, default=4.0,
                        help='GiB another process holds while vLLM is sized (default 4)')
    args = parser.parse_args()
    if not args.json:
        print(f'{"case":<48} {"estimate MB":>12} {"peak MB":>9} {"ratio":>6}')
    for case in cases(args):
        if case[2] == 'llamacpp':
            try:
                lazyllm.deploy.llamacpp.check_installed()
            except lazyllm.errors.DeployError as e:
                print(f'{case[0]:<48} not run: {str(e)[:80]}', file=sys.stderr)
                continue
        row = measure(*case)
        if args.json:
            print(json.dumps(row), flush=True)
        else:
            sized = f'  (sized: {row["options"]})' if row['options'] else ''
            print(f'{row["case"]:<48} {row["estimate_mb"]:>12} {row["peak_mb"]:>9} '
                  f'{row["ratio"]:>6.2f}{sized}', flush=True)
    if not args.json:
        print('goal: every ratio within 0.80-1.20 (the estimate is the plan start() makes; '
              'the peak is the sum of VmHWM of the engine processes)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
