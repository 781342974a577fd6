"""How much does OnlineChatModule add on top of raw HTTP to the same server?

    python bench/bench_online.py [--iterations 300] [--inprocess]

Starts the OpenAI-compatible test server (tests/servers/openai_server.py) in a subprocess
(``--inprocess``: in a thread of this process) and, in the same run, times one chat call
made by ``lazyllm.OnlineChatModule(source='openai', base_url=…)`` — the whole module path:
key resolution done at construction, prompter, supplier protocol, client, usage counting —
against ``httpx.Client.post`` + ``json.loads`` (non-stream) and ``httpx.Client.stream`` +
``iter_lines`` + ``json.loads`` per event (stream). The sides are interleaved call by call
after a warm-up. Goals: non-stream <= 1.05x raw, stream <= 1.10x raw.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

import lazyllm  # noqa: E402
from bench.bench_client import interleaved, p99, start_server  # noqa: E402

PROMPT = ' '.join(f'word{i}' for i in range(40))
GOALS = {'non-stream': 1.05, 'stream': 1.10}
KEY = 'sk-bench-online'


def bench(base_url: str, n: int, warmup: int) -> list[tuple]:
    url = base_url + 'chat/completions'
    messages = [{'role': 'user', 'content': PROMPT}]
    body = {'model': 'bench-model', 'messages': messages}
    stream_body = {**body, 'stream': True, 'stream_options': {'include_usage': True}}
    raw = httpx.Client(headers={'Authorization': f'Bearer {KEY}'})
    module = lazyllm.OnlineChatModule(source='openai', model='bench-model', base_url=base_url,
                                      api_key=KEY)
    streaming = module.share(stream=True)

    def raw_chat():
        r = raw.post(url, json=body)
        r.raise_for_status()
        return json.loads(r.content)['choices'][0]['message']['content']

    def raw_stream():
        parts = []
        with raw.stream('POST', url, json=stream_body) as r:
            r.raise_for_status()
            for line in r.iter_lines():
                if line.startswith('data: ') and line != 'data: [DONE]':
                    choices = json.loads(line[6:])['choices']
                    if choices:
                        parts.append(choices[0]['delta'].get('content') or '')
        return ''.join(parts)

    def module_chat():
        return module(PROMPT)

    def module_stream():
        return streaming(PROMPT)

    assert raw_chat() == module_chat() == raw_stream() == module_stream() == PROMPT
    rows = []
    for name, (r, o) in {'non-stream': (raw_chat, module_chat),
                         'stream': (raw_stream, module_stream)}.items():
        t_raw, t_ours = interleaved(r, o, n, warmup)
        c_raw, c_ours = interleaved(r, o, n, 0, time.thread_time)
        rows.append((name, statistics.median(t_raw), statistics.median(t_ours), p99(t_raw),
                     p99(t_ours), statistics.median(c_raw), statistics.median(c_ours)))
    raw.close()
    module.stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--iterations', type=int, default=300)
    parser.add_argument('--warmup', type=int, default=50)
    parser.add_argument('--inprocess', action='store_true',
                        help='run the server in a thread of this process')
    args = parser.parse_args()
    base_url, stop = start_server(args.inprocess)
    try:
        rows = bench(base_url, args.iterations, args.warmup)
    finally:
        stop()
    where = 'in-process thread' if args.inprocess else 'subprocess'
    print(f'server: tests/servers/openai_server.py ({where}); {args.iterations} interleaved '
          f'calls per side after {args.warmup} warm-up; OnlineChatModule vs raw httpx')
    print()
    print(f'{"call":<12}{"raw med":>10}{"module med":>12}{"ratio":>8}{"raw p99":>10}'
          f'{"module p99":>12}{"goal":>7}  ok {"client CPU raw/module (ratio)":>32}')
    for name, raw_med, our_med, raw_p99, our_p99, raw_cpu, our_cpu in rows:
        ratio = our_med / raw_med
        goal = GOALS[name]
        print(f'{name:<12}{raw_med * 1e6:>8.0f}us{our_med * 1e6:>10.0f}us{ratio:>8.3f}'
              f'{raw_p99 * 1e6:>8.0f}us{our_p99 * 1e6:>10.0f}us{goal:>6.2f}x  '
              f'{"yes" if ratio <= goal else "NO ":<3}'
              f'{raw_cpu * 1e6:>15.0f}us /{our_cpu * 1e6:>5.0f}us ({our_cpu / raw_cpu:.3f})')


if __name__ == '__main__':
    main()
