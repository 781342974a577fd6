"""What does ``lazyllm serve`` add to a call? The same chat through the gateway and directly.

    python bench/bench_gateway.py            # tiny random Qwen2, 200 calls per side, ~1 min
    python bench/bench_gateway.py --quick    # 20 calls per side, 16 streams (a smoke test)

One built-in engine (the tiny random Qwen2, transformers, registered as ``tiny``) and one
``lazyllm serve`` subprocess over it, in a temporary LAZYLLM_HOME. The same request (a short
chat, ``max_tokens`` 8, temperature 0) is sent by raw httpx (one kept-alive connection per
side) to the engine's own URL and to the gateway, interleaved call by call after a warm-up,
so the only difference is the gateway's hop. Rows:

- non-stream: median and p99 per call, and the median ratio gateway / direct (goal <= 1.05x);
- time to first token of a stream (the first ``data:`` event with content): the medians and
  what the gateway adds (goal <= 2 ms);
- N concurrent streams (64; 16 with --quick) through the gateway, each read to ``[DONE]``:
  the calls that failed (goal 0), and the wall time, next to the same N sent directly;
- the gateway process's CPU time per non-streamed call (psutil, when installed).

Goals are printed, never asserted.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault('HF_HUB_OFFLINE', '1')
HOME = tempfile.mkdtemp(prefix='bench-gateway-')
os.environ['LAZYLLM_HOME'] = HOME        # the gateway subprocess inherits it

import httpx  # noqa: E402
from _chats import chats  # noqa: E402

import lazyllm  # noqa: E402
from tests.support import models  # noqa: E402

ANNOUNCE = re.compile(r'lazyllm serve: the OpenAI API of every deployment at (http://\S+/v1/)')
NAME = 'tiny'
GOALS = {'ratio': 1.05, 'ttft_ms': 2.0, 'errors': 0}


def start_gateway() -> tuple[subprocess.Popen, str]:
    """``lazyllm serve --port 0`` and the base URL it announces on stderr."""
    proc = subprocess.Popen([sys.executable, '-m', 'lazyllm', 'serve', '--port', '0'],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        m = ANNOUNCE.search(line)
        if m:
            return proc, m.group(1)
    proc.wait()
    raise SystemExit(f'lazyllm serve exited ({proc.returncode}) without listening')


def stop_gateway(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def interleaved(a, b, n: int, warmup: int) -> tuple[list, list]:
    """Values returned by ``a`` and ``b`` (each times itself), alternating which goes first."""
    for _ in range(warmup):
        a()
        b()
    va: list = []
    vb: list = []
    for i in range(n):
        for f, out in (((a, va), (b, vb)) if i % 2 else ((b, vb), (a, va))):
            out.append(f())
    return va, vb


def p99(xs: list[float]) -> float:
    return sorted(xs)[min(len(xs) - 1, int(len(xs) * 0.99))]


def caller(base: str, client: httpx.Client, body: dict):
    """(a timed non-stream call, a call timing its stream's first token) against ``base``."""
    url = base + 'chat/completions'

    def call() -> float:
        t0 = time.perf_counter()
        r = client.post(url, json=body)
        took = time.perf_counter() - t0
        assert r.status_code == 200 and r.json()['choices'], r.text
        return took

    def first_token() -> float:
        t0 = time.perf_counter()
        first = None
        with client.stream('POST', url, json={**body, 'stream': True}) as r:
            assert r.status_code == 200, r.read()
            for line in r.iter_lines():
                if first is None and line.startswith('data: {'):
                    choices = json.loads(line[6:])['choices']
                    if choices and choices[0]['delta'].get('content'):
                        first = time.perf_counter() - t0
        assert first is not None, 'the stream had no content'
        return first
    return call, first_token


def one_stream(client: httpx.Client, url: str, body: dict) -> bool:
    """A stream read to its end: whether it ended with [DONE] after some content."""
    text, done = [], False
    with client.stream('POST', url, json={**body, 'stream': True}) as r:
        if r.status_code != 200:
            return False
        for line in r.iter_lines():
            if line == 'data: [DONE]':
                done = True
            elif line.startswith('data: {'):
                choices = json.loads(line[6:])['choices']
                if choices:
                    text.append(choices[0]['delta'].get('content') or '')
    return done and bool(''.join(text))


def concurrent_streams(base: str, bodies: list[dict]) -> tuple[int, float, str]:
    """(failed calls, wall time, the first failure) of len(bodies) streams at once."""
    n = len(bodies)
    url = base + 'chat/completions'
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    failures: list[str] = []
    with httpx.Client(timeout=300, limits=limits) as client:
        def run(body):
            try:
                if not one_stream(client, url, body):
                    failures.append('a stream without content or [DONE]')
            except Exception as e:            # a failed call is counted, not raised
                failures.append(f'{type(e).__name__}: {e}')
        t0 = time.perf_counter()
        with cf.ThreadPoolExecutor(n) as pool:
            list(pool.map(run, bodies))
        took = time.perf_counter() - t0
    return len(failures), took, (failures[0] if failures else '')


def cpu_seconds(pid: int) -> float | None:
    try:
        import psutil
    except ImportError:
        return None
    t = psutil.Process(pid).cpu_times()
    return t.user + t.system


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--quick', action='store_true',
                        help='few calls and 16 concurrent streams (a smoke test)')
    parser.add_argument('--iterations', type=int, help='calls per side (default 200; 20 quick)')
    parser.add_argument('--streams', type=int, help='concurrent streams (default 64; 16 quick)')
    args = parser.parse_args()
    n = args.iterations or (20 if args.quick else 200)
    warmup = 5 if args.quick else 20
    streams = args.streams or (16 if args.quick else 64)
    body = {'model': NAME, 'messages': chats(1)[0], 'max_tokens': 8, 'temperature': 0}

    llm = lazyllm.TrainableModule(models.tiny_qwen2()).deploy_method(
        lazyllm.deploy.transformers, max_batch=streams).start(name=NAME)
    gateway = None
    try:
        gateway, via = start_gateway()
        direct = llm.url
        with httpx.Client(timeout=120) as c_direct, httpx.Client(timeout=120) as c_via:
            d_call, d_first = caller(direct, c_direct, body)
            g_call, g_first = caller(via, c_via, body)
            cpu0 = cpu_seconds(gateway.pid)
            t_direct, t_via = interleaved(d_call, g_call, n, warmup)
            cpu1 = cpu_seconds(gateway.pid)
            f_direct, f_via = interleaved(d_first, g_first, n, warmup)
        bodies = [{**body, 'messages': m} for m in chats(streams)]
        concurrent_streams(via, bodies[:4])                               # warm up
        e_direct, w_direct, _ = concurrent_streams(direct, bodies)
        e_via, w_via, first_failure = concurrent_streams(via, bodies)
    finally:
        if gateway is not None:
            stop_gateway(gateway)
        llm.stop()
        shutil.rmtree(HOME, ignore_errors=True)

    med_d, med_g = statistics.median(t_direct), statistics.median(t_via)
    ratio = med_g / med_d
    ttft_d, ttft_g = statistics.median(f_direct), statistics.median(f_via)
    added = (ttft_g - ttft_d) * 1e3
    print(f'tiny random Qwen2 (transformers, max_batch {streams}); chat, max_tokens 8, '
          f'temperature 0; {n} interleaved calls per side after {warmup} warm-up; raw httpx')
    print()
    print(f'{"measure":<34}{"direct":>10}{"gateway":>10}{"ratio/added":>13}   '
          f'{"goal":<10}ok')
    print(f'{"non-stream median":<34}{med_d * 1e3:>8.2f}ms{med_g * 1e3:>8.2f}ms{ratio:>13.3f}   '
          f'{"<= 1.05x":<10}{"yes" if ratio <= GOALS["ratio"] else "NO"}')
    print(f'{"non-stream p99":<34}{p99(t_direct) * 1e3:>8.2f}ms{p99(t_via) * 1e3:>8.2f}ms'
          f'{p99(t_via) / p99(t_direct):>13.3f}')
    print(f'{"time to first token (median)":<34}{ttft_d * 1e3:>8.2f}ms{ttft_g * 1e3:>8.2f}ms'
          f'{added:>+11.2f}ms   {"<= 2 ms":<10}{"yes" if added <= GOALS["ttft_ms"] else "NO"}')
    label = f'{streams} concurrent streams: errors'
    print(f'{label:<34}{e_direct:>10}{e_via:>10}{"":>13}   {"0":<10}'
          f'{"yes" if e_via <= GOALS["errors"] else "NO"}')
    print(f'{f"{streams} concurrent streams: wall":<34}{w_direct:>9.2f}s{w_via:>9.2f}s'
          f'{w_via / w_direct:>13.3f}')
    if cpu0 is not None and cpu1 is not None:
        per_call = (cpu1 - cpu0) / (n + warmup) * 1e3
        print(f'{"gateway CPU per non-stream call":<34}{"":>10}{per_call:>8.2f}ms')
    if first_failure:
        print(f'\nfirst failure through the gateway: {first_failure}')


if __name__ == '__main__':
    main()
