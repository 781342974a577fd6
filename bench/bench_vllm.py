"""The built-in LLM engine vs vLLM on the same model and the same 16-concurrent chat workload.

    python bench/bench_vllm.py [--n 16] [--max-tokens 32] [--python VLLM_PYTHON]

For each engine: time to ready (start() until /health answers), then N concurrent chat
requests (greedy, at most ``max_tokens`` each: both stop at EOS or the budget): generated
tokens/s over the wall time of the batch, after one warm-up request. Model:
SmolLM2-135M-Instruct (tests/support/models.py). vLLM runs eager with a 256 MiB KV cache,
under the interpreter of ``--python`` / ``$LAZYLLM_VLLM_PYTHON`` / ``.venv-vllm``.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault('HF_HUB_OFFLINE', '1')

from _chats import chats  # noqa: E402

import lazyllm  # noqa: E402
from tests.support import models  # noqa: E402


def run(module: lazyllm.TrainableModule, n: int, max_tokens: int) -> tuple[float, float, int]:
    """(seconds to ready, generated tokens/s, tokens) for n concurrent chats."""
    t0 = time.perf_counter()
    module.start()
    ready = time.perf_counter() - t0
    try:
        client, name = module.deployment.client(), module.deployment.served_name
        prompts = chats(n)
        ask = (lambda m: client.chat(m, model=name, temperature=0, max_tokens=max_tokens))
        ask(prompts[0])                                                  # warm up
        t0 = time.perf_counter()
        with cf.ThreadPoolExecutor(n) as pool:
            answers = list(pool.map(ask, prompts))
        wall = time.perf_counter() - t0
        tokens = sum(a.usage['completion_tokens'] for a in answers)
        return ready, tokens / wall, tokens
    finally:
        module.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--n', type=int, default=16, help='concurrent chats')
    parser.add_argument('--max-tokens', type=int, default=32)
    parser.add_argument('--python', default=os.environ.get('LAZYLLM_VLLM_PYTHON') or
                        str(ROOT / '.venv-vllm' / 'bin' / 'python'))
    parser.add_argument('--engines', default='transformers,vllm')
    parser.add_argument('--bind', default=None, help="vLLM's cpu_threads_bind (default: ours)")
    args = parser.parse_args()
    if not Path(args.python).exists():
        raise SystemExit(f'no vLLM interpreter at {args.python}: bash .ci/install-vllm.sh')
    path = str(models.smollm2_135m_instruct())
    engines = {
        'transformers': lazyllm.TrainableModule(path).deploy_method(
            lazyllm.deploy.transformers, max_batch=args.n),
        'vllm': lazyllm.TrainableModule(path).deploy_method(
            lazyllm.deploy.vllm, python=args.python, enforce_eager=True, max_model_len=1024,
            kv_cache_memory_bytes=256 << 20, gpu_memory_utilization=0.2,
            cpu_threads_bind=args.bind),
    }
    print(f'{"engine":<14}{"ready (s)":>10}{"tok/s":>10}{"tokens":>8}   '
          f'({args.n} concurrent chats, max_tokens={args.max_tokens}, SmolLM2-135M)')
    for name in args.engines.split(','):
        module = engines[name]
        ready, rate, tokens = run(module, args.n, args.max_tokens)
        print(f'{name:<14}{ready:>10.1f}{rate:>10.1f}{tokens:>8}')


if __name__ == '__main__':
    main()
