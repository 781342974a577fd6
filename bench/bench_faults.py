"""Faults of the engine lifecycle, measured on real engines (the tiny random Qwen2).

    python bench/bench_faults.py            # ~1 min
    python bench/bench_faults.py --quick    # shorter traffic (a smoke test)

Prints one table:
- a swap to other weights (``set_specific_finetuned_model`` on a running named module) while
  4 threads call 3 shares: failed calls (goal 0), calls answered meanwhile, how long the
  swap took, the longest call during it against the median call before it, and the gap a
  stop-then-start (``restart()``) leaves instead;
- SIGKILL of the engine's process group while N threads call one share: exceptions outside
  lazyllm's tree (goal 0), calls that failed with a lazyllm error, engine restarts (goal 1),
  restart warnings (goal 1), and the time from the kill until a call succeeds again and until
  every caller has succeeded again;
- `lazyllm ps` while the engine is busy (a long request in flight, the engine frozen with
  SIGSTOP so that /health cannot answer): the status it shows (goal running) and how long ps
  took;
- `lazyllm deploy --detach` then at once `lazyllm ps` and `lazyllm stop`: each command's time,
  the status ps showed (goal starting) and whether any process of the deployment is left
  (goal none).
Everything runs in a temporary LAZYLLM_HOME, removed at the end.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault('HF_HUB_OFFLINE', '1')
HOME = tempfile.mkdtemp(prefix='bench-faults-')
os.environ['LAZYLLM_HOME'] = HOME

import httpx  # noqa: E402
import psutil  # noqa: E402

import lazyllm  # noqa: E402
from lazyllm.errors import LazyLLMError  # noqa: E402
from tests.faults.conftest_lifecycle import processes_of  # noqa: E402
from tests.support import models  # noqa: E402


def row(name: str, value: str, goal: str = '', ok: bool | None = None) -> None:
    mark = '' if ok is None else ('yes' if ok else 'NO')
    print(f'{name:<44}{value:>14}   {goal:<10}{mark}', flush=True)


class _Count(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def bench_sigkill(path: Path, callers: int, traffic: float) -> None:
    llm = lazyllm.TrainableModule(path).deploy_method(lazyllm.deploy.transformers,
                                                      max_batch=callers).start()
    share, dep = llm.share(temperature=0), llm.deployment
    warnings = _Count()
    logging.getLogger('lazyllm').addHandler(warnings)
    failed, foreign, after = [0], [], {}
    killed_at, stop, lock = [0.0], threading.Event(), threading.Lock()

    def caller(i: int) -> None:
        while not stop.is_set():
            began = time.monotonic()
            try:
                share(f'caller {i} says hello', max_tokens=8)
                with lock:   # a call begun after the kill: it found the engine dead or new
                    if killed_at[0] and began >= killed_at[0] and i not in after:
                        after[i] = time.monotonic() - killed_at[0]
            except LazyLLMError:
                with lock:
                    failed[0] += 1
            except Exception as e:  # what the fault suite says never happens
                foreign.append(f'{type(e).__name__}: {e}')
    threads = [threading.Thread(target=caller, args=(i,)) for i in range(callers)]
    try:
        for t in threads:
            t.start()
        time.sleep(traffic)
        first_job = dep.job
        with lock:
            killed_at[0] = time.monotonic()
        os.killpg(first_job.pid, signal.SIGKILL)
        deadline = time.monotonic() + 180
        while len(after) < callers and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        for t in threads:
            t.join(60)
        restarts = dep.generation - 1     # a generation per launch: the first, then restarts
    finally:
        stop.set()
        logging.getLogger('lazyllm').removeHandler(warnings)
        llm.stop()
    restart_warnings = [m for m in warnings.messages if 'exited' in m]
    row(f'SIGKILL, {callers} callers: non-lazyllm exceptions', str(len(foreign)), '0',
        not foreign)
    row('  calls failed (lazyllm errors)', str(failed[0]))
    row('  engine restarts', str(restarts), '1', restarts == 1)
    row('  restart warnings', str(len(restart_warnings)), '1', len(restart_warnings) == 1)
    times = sorted(after.values())
    row('  kill -> a call succeeds again', f'{times[0]:.2f}s' if times else 'never')
    row(f'  kill -> all {callers} callers succeed again',
        f'{times[-1]:.2f}s' if len(times) == callers else 'never')


def bench_swap(path: Path, traffic: float) -> None:
    """4 threads calling 3 shares of a named deployment through a swap to other weights."""
    other = models.other_weights(path, Path(HOME) / 'other-weights')
    llm = lazyllm.TrainableModule(path).deploy_method(lazyllm.deploy.transformers,
                                                      max_batch=8).start(name='bench-swap')
    shares = [llm.share(temperature=0), llm.share(prompt='Answer briefly.'), llm.share()]
    failed, foreign, times, lock = [0], [], [], threading.Lock()
    swapping, stop = [0.0, 0.0], threading.Event()

    def caller(i: int) -> None:
        while not stop.is_set():
            began = time.monotonic()
            try:
                shares[i % 3](f'caller {i}', max_tokens=4)
            except LazyLLMError:
                with lock:
                    failed[0] += 1
            except Exception as e:  # noqa: BLE001 - what the fault suite says never happens
                foreign.append(f'{type(e).__name__}: {e}')
            with lock:
                times.append((began, time.monotonic() - began))
    threads = [threading.Thread(target=caller, args=(i,)) for i in range(4)]
    try:
        for t in threads:
            t.start()
        time.sleep(traffic)
        swapping[0] = time.monotonic()
        llm.set_specific_finetuned_model(other)
        swapping[1] = time.monotonic()
        time.sleep(traffic)
        stop.set()
        for t in threads:
            t.join(60)
        t0 = time.monotonic()
        llm.restart()                      # the gap a stop-then-start leaves
        gap = time.monotonic() - t0
    finally:
        stop.set()
        llm.stop()
    steady = sorted(d for b, d in times if b < swapping[0])
    during = [d for b, d in times if swapping[0] <= b <= swapping[1]]
    row('swap under traffic (4 threads, 3 shares): failed', str(failed[0] + len(foreign)), '0',
        not failed[0] and not foreign)
    row('  calls answered during the swap', str(len(during)))
    row('  swap took (launch beside, switch, drain)', f'{swapping[1] - swapping[0]:.2f}s')
    row('  longest call during the swap', f'{max(during, default=0):.2f}s')
    row('  median call before it', f'{steady[len(steady) // 2]:.3f}s' if steady else '-')
    row('  gap of a stop-then-start (restart())', f'{gap:.2f}s')


def cli(*args: str, timeout: float = 240) -> tuple[subprocess.CompletedProcess, float]:
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, '-m', 'lazyllm', *args], capture_output=True,
                         text=True, timeout=timeout, env=os.environ.copy())
    return out, time.perf_counter() - t0


def ps_rows() -> tuple[dict, float]:
    out, took = cli('ps', '--all', '--json', timeout=60)
    return {r['name']: r for r in json.loads(out.stdout or '[]')}, took


def bench_busy_ps(path: Path) -> None:
    name = 'bench-busy'
    out, _ = cli('deploy', str(path), '--name', name, '--engine', 'transformers')
    if out.returncode != 0:
        raise SystemExit(out.stderr[-2000:])
    rec = ps_rows()[0][name]
    (engine,) = psutil.Process(rec['pid']).children()
    body = {'model': name, 'stream': True, 'max_tokens': 480,
            'messages': [{'role': 'user', 'content': 'tell me a long story'}]}
    began = threading.Event()

    def long_request() -> None:
        with httpx.stream('POST', rec['url'] + 'chat/completions', json=body, timeout=120) as r:
            for _ in r.iter_lines():
                began.set()
    thread = threading.Thread(target=long_request)
    thread.start()
    began.wait(60)
    engine.send_signal(signal.SIGSTOP)
    try:
        status, took = ps_rows()
    finally:
        engine.send_signal(signal.SIGCONT)
    thread.join(120)
    cli('stop', name)
    shown = status[name]['status']
    row('ps while the engine is busy: status', shown, 'running', shown == 'running')
    row('  ps took', f'{took:.2f}s')


def bench_detach(path: Path) -> None:
    name = 'bench-detach'
    out, t_deploy = cli('deploy', str(path), '--name', name, '--engine', 'transformers',
                        '--detach')
    rows, t_ps = ps_rows()
    out, t_stop = cli('stop', name)
    deadline = time.monotonic() + 30
    while processes_of(name) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1)
    left = processes_of(name)
    shown = rows.get(name, {}).get('status', 'missing')
    row('deploy --detach returns', f'{t_deploy:.2f}s')
    row('  then ps: status', shown, 'starting', shown == 'starting')
    row('  ps took', f'{t_ps:.2f}s')
    row('  then stop took', f'{t_stop:.2f}s')
    row('  processes of the deployment left', str(len(left)), '0', not left)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--quick', action='store_true', help='shorter traffic before the kill')
    parser.add_argument('--callers', type=int, default=8, help='threads calling the share')
    args = parser.parse_args()
    path = models.tiny_qwen2()
    print(f'{"measure":<44}{"value":>14}   {"goal":<10}ok')
    try:
        bench_sigkill(path, args.callers, 1.0 if args.quick else 3.0)
        bench_swap(path, 1.0 if args.quick else 3.0)
        bench_busy_ps(path)
        bench_detach(path)
    finally:
        cli('stop', '--all', timeout=120)
        shutil.rmtree(HOME, ignore_errors=True)


if __name__ == '__main__':
    main()
