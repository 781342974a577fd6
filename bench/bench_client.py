"""How much does lazyllm's client add on top of raw httpx? And how fast is ``import lazyllm``?

    python bench/bench_client.py [--iterations 300] [--inprocess]

Starts the OpenAI-compatible test server (tests/servers/openai_server.py) in a subprocess
(``--inprocess``: in a thread of this process), then, against the same server and in the
same run, times:

- a non-streamed chat call: ``Client.chat`` vs ``httpx.Client.post`` + ``json.loads``;
- a streamed chat call: ``Client.stream_chat`` consumed to the end vs ``httpx.Client.stream``
  + ``iter_lines`` + ``json.loads`` of each ``data:`` line;
- ``import lazyllm`` in a fresh interpreter (median of several).

The two sides of each comparison are interleaved call by call, after a warm-up, so that
drift (CPU frequency, the server's caches) hits both equally. Goals: non-stream <= 1.05x raw,
stream <= 1.10x raw, import <= 0.10 s.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from lazyllm.client import Client  # noqa: E402

MESSAGES = [{'role': 'system', 'content': 'You are a helpful assistant.'},
            {'role': 'user', 'content': ' '.join(f'word{i}' for i in range(40))}]
GOALS = {'non-stream': 1.05, 'stream': 1.10}


def start_server(inprocess: bool):
    """(base_url, stop function)."""
    if inprocess:
        from tests.servers.openai_server import OpenAIServer
        srv = OpenAIServer().start()
        return srv.base_url, srv.stop
    code = 'from tests.servers.openai_server import main; main(["--port", "0"])'
    proc = subprocess.Popen([sys.executable, '-c', code], cwd=ROOT, stdout=subprocess.PIPE,
                            text=True)
    line = proc.stdout.readline()  # "serving http://127.0.0.1:PORT/v1/ (Ctrl-C to stop)"
    if not line.startswith('serving '):
        proc.kill()
        raise SystemExit(f'the test server did not start: {line!r}')

    def stop():
        proc.terminate()
        proc.wait(10)
    return line.split()[1], stop


def interleaved(a, b, n: int, warmup: int, clock=time.perf_counter):
    """Per-call times of ``a`` and ``b`` measured with ``clock``, alternating which goes first."""
    for _ in range(warmup):
        a()
        b()
    times: dict = {a: [], b: []}
    for i in range(n):
        for f in ((a, b) if i % 2 else (b, a)):
            t0 = clock()
            f()
            times[f].append(clock() - t0)
    return times[a], times[b]


def p99(xs: list[float]) -> float:
    return sorted(xs)[min(len(xs) - 1, int(len(xs) * 0.99))]


def bench_calls(base_url: str, n: int, warmup: int) -> list[tuple]:
    url = base_url + 'chat/completions'
    payload = {'messages': MESSAGES}
    stream_payload = {'messages': MESSAGES, 'stream': True}
    raw = httpx.Client(headers={'Authorization': 'Bearer sk-bench'})
    ours = Client(base_url, api_key='sk-bench')

    def raw_chat():
        r = raw.post(url, json=payload)
        r.raise_for_status()
        return json.loads(r.content)['choices'][0]['message']['content']

    def our_chat():
        return ours.chat(MESSAGES).content

    def raw_stream():
        parts = []
        with raw.stream('POST', url, json=stream_payload) as r:
            r.raise_for_status()
            for line in r.iter_lines():
                if line.startswith('data: '):
                    data = line[6:]
                    if data != '[DONE]':
                        parts.append(json.loads(data)['choices'][0]['delta'].get('content') or '')
        return ''.join(parts)

    def our_stream():
        return ''.join(d.content for d in ours.stream_chat(MESSAGES))

    assert raw_chat() == our_chat() == raw_stream() == our_stream() == MESSAGES[1]['content']
    rows = []
    for name, (r, o) in {'non-stream': (raw_chat, our_chat),
                         'stream': (raw_stream, our_stream)}.items():
        t_raw, t_ours = interleaved(r, o, n, warmup)
        # CPU time of this thread only: what the client itself costs, without the server
        c_raw, c_ours = interleaved(r, o, n, 0, time.thread_time)
        rows.append((name, statistics.median(t_raw), statistics.median(t_ours), p99(t_raw),
                     p99(t_ours), statistics.median(c_raw), statistics.median(c_ours)))
    raw.close()
    ours.close()
    return rows


def bench_import(runs: int) -> list[float]:
    code = ('import time; t = time.perf_counter(); import lazyllm; '
            'print(time.perf_counter() - t)')
    out = []
    for _ in range(runs):
        res = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                             check=True, cwd=ROOT)
        out.append(float(res.stdout))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--iterations', type=int, default=300)
    parser.add_argument('--warmup', type=int, default=50)
    parser.add_argument('--import-runs', type=int, default=9)
    parser.add_argument('--inprocess', action='store_true',
                        help='run the server in a thread of this process')
    args = parser.parse_args()
    base_url, stop = start_server(args.inprocess)
    try:
        rows = bench_calls(base_url, args.iterations, args.warmup)
    finally:
        stop()
    imports = bench_import(args.import_runs)
    where = 'in-process thread' if args.inprocess else 'subprocess'
    print(f'server: tests/servers/openai_server.py ({where}); {args.iterations} interleaved '
          f'calls per side after {args.warmup} warm-up; python {sys.version.split()[0]}, '
          f'httpx {httpx.__version__}')
    print()
    print(f'{"call":<12}{"raw med":>10}{"ours med":>10}{"ratio":>8}{"raw p99":>10}'
          f'{"ours p99":>10}{"p99 ratio":>10}{"goal":>7}  ok {"client CPU raw/ours (ratio)":>30}')
    for name, raw_med, our_med, raw_p99, our_p99, raw_cpu, our_cpu in rows:
        ratio = our_med / raw_med
        goal = GOALS[name]
        print(f'{name:<12}{raw_med * 1e6:>8.0f}us{our_med * 1e6:>8.0f}us{ratio:>8.3f}'
              f'{raw_p99 * 1e6:>8.0f}us{our_p99 * 1e6:>8.0f}us{our_p99 / raw_p99:>10.3f}'
              f'{goal:>6.2f}x  {"yes" if ratio <= goal else "NO ":<3}'
              f'{raw_cpu * 1e6:>13.0f}us /{our_cpu * 1e6:>5.0f}us ({our_cpu / raw_cpu:.3f})')
    med = statistics.median(imports)
    print(f'{"import":<12}{"":>10}{med * 1e3:>8.1f}ms{"":>8}{"":>10}{max(imports) * 1e3:>8.1f}ms'
          f'{"(max)":>10}{"0.10":>6}s  {"yes" if med <= 0.10 else "NO"}')
    print(f'\nimport lazyllm: median of {len(imports)} fresh interpreters; '
          f'runs: {", ".join(f"{t * 1e3:.1f}" for t in imports)} ms')


if __name__ == '__main__':
    main()
