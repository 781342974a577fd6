"""``lazyllm ps``, ``lazyllm stop``, ``lazyllm logs``: the registered deployments.

``ps --metrics`` adds what each running engine's ``GET /metrics`` says (the built-in engines
export it): requests waiting or generating, and completion tokens per second since the
engine process started (a counter over the uptime the engine reports: no second scrape to
wait for, but an average, not the rate of the last seconds).

Also the helpers the other deployment commands share: looking a deployment up by name,
printing a table or JSON, and formatting an uptime.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from typing import Any, Iterable, Sequence

from ..errors import DeployError, InputError
from ._command import Command, UsageError, register

HEAD = ('NAME', 'MODEL', 'TYPE', 'ENGINE', 'URL', 'JOB', 'STATUS', 'UPTIME')
METRICS_HEAD = ('QUEUE', 'TOK/S')
SCRAPE_TIMEOUT = 1.0    # seconds an engine's /metrics may take before ps shows '-'


# -- shared helpers ---------------------------------------------------------------------------
def set_example(parser: argparse.ArgumentParser, text: str) -> None:
    """Show ``text`` (kept as written) as the example under the options of ``--help``."""
    parser.epilog = 'examples:\n' + text
    parser.formatter_class = argparse.RawDescriptionHelpFormatter


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def print_table(head: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    rows = [tuple(str(c) for c in r) for r in rows]
    widths = [max(len(r[i]) for r in rows + [tuple(head)]) for i in range(len(head))]
    for row in [tuple(head)] + rows:
        print('  '.join(c.ljust(w) for c, w in zip(row, widths)).rstrip())


def uptime(seconds: float | None) -> str:
    """``42s``, ``3m12s``, ``2h05m``, ``3d04h``; ``-`` when unknown."""
    if seconds is None or seconds < 0:
        return '-'
    s = int(seconds)
    if s < 60:
        return f'{s}s'
    if s < 3600:
        return f'{s // 60}m{s % 60:02d}s'
    if s < 86400:
        return f'{s // 3600}h{s % 3600 // 60:02d}m'
    return f'{s // 86400}d{s % 86400 // 3600:02d}h'


def as_dict(record: Any) -> dict:
    if dataclasses.is_dataclass(record) and not isinstance(record, type):   # an instance
        data = dataclasses.asdict(record)
    elif hasattr(record, '_asdict'):
        data = record._asdict()
    else:
        data = dict(vars(record))
    data.pop('token', None)       # a secret (the engine's launch token)
    return {k: getattr(v, 'value', v) for k, v in data.items()}


def records() -> list:
    import lazyllm
    return list(lazyllm.deployments())


def find(name: str, found: list | None = None) -> Any:
    """The record named ``name``; else an InputError naming the known deployments."""
    found = records() if found is None else found
    for record in found:
        if record.name == name:
            return record
    known = ', '.join(sorted(r.name for r in found))
    hint = f'known deployments: {known}' if known else \
        'there are no deployments yet; start one with `lazyllm deploy MODEL`'
    raise InputError(f'no deployment named {name!r}: {hint} (see `lazyllm ps --all`).')


def job_label(record: Any) -> str:
    """``<launcher>:<job id>`` (``slurm:1234``, ``local:4242``), or '-' without a job."""
    job = record.job_id or record.pid
    return f'{record.launcher.partition(":")[0]}:{job}' if job else '-'


def row(record: Any, now: float | None = None) -> tuple:
    running = record.status == 'running'
    age = (now or time.time()) - record.created if running and record.created else None
    return (record.name, record.model, getattr(record.type, 'value', record.type) or '-',
            record.engine or '-', record.url or '-', job_label(record), record.status,
            uptime(age))


# -- ps ---------------------------------------------------------------------------------------
def _ps_arguments(parser: argparse.ArgumentParser) -> None:
    set_example(parser, '  lazyllm ps            # running and starting deployments\n'
                        '  lazyllm ps --all --json')
    parser.add_argument('--all', '-a', action='store_true',
                        help='also list stopped and failed deployments')
    parser.add_argument('--json', action='store_true',
                        help='print the records (every field) as JSON, for scripts')
    parser.add_argument('--metrics', action='store_true',
                        help="add QUEUE (requests waiting or generating) and TOK/S (completion "
                             "tokens per second since the engine started) from each running "
                             "engine's /metrics; '-' where an engine does not export them")


def engine_metrics(record: Any, now: float) -> tuple[float | None, float | None]:
    """(queue depth, completion tokens per second since the engine started) from the
    engine's ``/metrics`` (open, no API key); None for what it does not export (only
    the llm and vlm engines count tokens) or when it does not answer in time."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families
    if record.status != 'running' or not record.url:
        return None, None
    root = record.url.rstrip('/').removesuffix('/v1')
    try:
        answer = httpx.get(root + '/metrics', timeout=SCRAPE_TIMEOUT)
        answer.raise_for_status()
        values: dict[str, float] = {}
        for family in text_string_to_metric_families(answer.text):
            for sample in family.samples:
                values[sample.name] = values.get(sample.name, 0.0) + sample.value
    except (httpx.HTTPError, ValueError):     # not reachable, or not Prometheus' format
        return None, None
    tokens = values.get('lazyllm_completion_tokens_total')
    start = values.get('process_start_time_seconds') or record.created
    rate = tokens / max(now - start, 1.0) if tokens is not None and start else None
    return values.get('lazyllm_queue_depth'), rate


def _with_metrics(shown: list, now: float) -> list[tuple[float | None, float | None]]:
    try:
        import prometheus_client  # noqa: F401 - only to say it is missing
    except ImportError:
        raise InputError("ps --metrics reads the engines' metrics with prometheus_client, "
                         "which is not installed here: pip install 'lazyllm-model-layer[local]'"
                         ' (or prometheus-client).') from None
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(8) as pool:      # one slow engine does not wait for another
        return list(pool.map(lambda r: engine_metrics(r, now), shown))


def _number(value: float | None, digits: int) -> str:
    return '-' if value is None else f'{value:.{digits}f}'


LIVE = ('running', 'starting')   # what `ps` lists and `stop --all` ends by default


def _ps(args: argparse.Namespace) -> int:
    shown = [r for r in records() if args.all or r.status in LIVE]
    shown.sort(key=lambda r: r.created or 0)
    now = time.time()
    scraped = _with_metrics(shown, now) if args.metrics else None
    if args.json:
        rows = [as_dict(r) for r in shown]
        for data, (queue, rate) in zip(rows, scraped or ()):
            data.update(queue_depth=queue, tokens_per_second=rate)
        print_json(rows)
    elif scraped is None:
        print_table(HEAD, (row(r, now) for r in shown))
    else:
        print_table(HEAD + METRICS_HEAD, (row(r, now) + (_number(q, 0), _number(t, 1))
                                          for r, (q, t) in zip(shown, scraped)))
    return 0


# -- stop -------------------------------------------------------------------------------------
def _stop_arguments(parser: argparse.ArgumentParser) -> None:
    set_example(parser, '  lazyllm stop smol\n  lazyllm stop --all')
    parser.add_argument('names', nargs='*', metavar='NAME', help='deployments to stop')
    parser.add_argument('--all', '-a', action='store_true', help='stop every running deployment')
    parser.add_argument('--json', action='store_true',
                        help='print [{name, stopped, status}] as JSON (status before the stop)')


def _stop(args: argparse.Namespace) -> int:
    """Ends each engine through its job (a local one by process group): no HTTP, so no API
    key is needed, and a busy engine stops too. Statuses are the ones read just now."""
    if not args.names and not args.all:
        raise UsageError('name the deployments to stop (see `lazyllm ps`), or pass --all.')
    from ..serve import end_deployment
    found = records()
    chosen = [find(n, found) for n in dict.fromkeys(args.names)]   # all known, or none stops
    if args.all:
        chosen += [r for r in found if r.status in LIVE and r not in chosen]
    done = []
    for record in chosen:
        stopped = record.status in LIVE
        if stopped:
            end_deployment(record.name)
        done.append({'name': record.name, 'stopped': stopped, 'status': record.status})
        if not args.json:
            print(f'stopped {record.name}' if stopped else
                  f'{record.name} is not running ({record.status})')
    if args.json:
        print_json(done)
    return 0


# -- logs -------------------------------------------------------------------------------------
def _logs_arguments(parser: argparse.ArgumentParser) -> None:
    set_example(parser, '  lazyllm logs smol -n 100\n  lazyllm logs smol -f   # Ctrl-C ends')
    parser.add_argument('name', metavar='NAME', help='the deployment (see `lazyllm ps`)')
    parser.add_argument('-n', '--lines', type=int, default=50, metavar='LINES',
                        help='how many of the last lines to print (default 50)')
    parser.add_argument('-f', '--follow', action='store_true',
                        help='keep printing new lines until Ctrl-C or the engine ends')


def _logs(args: argparse.Namespace) -> int:
    if args.lines < 0:
        raise UsageError(f'-n must be >= 0, got {args.lines}.')
    from ..serve import job_of
    record = find(args.name)
    job = job_of(record)
    if job is None:
        raise DeployError(f'{record.name} has no job whose output could be read.')
    out = sys.stdout.buffer
    text, pos = job.tail_output(args.lines)
    out.write(text)
    out.flush()
    while args.follow:
        chunk = job.read_output(pos)
        if chunk:
            out.write(chunk)
            out.flush()
            pos += len(chunk)
        elif job.ended:
            break
        else:
            time.sleep(0.2)
    return 0


register(Command('ps', 'list the deployments and their status', _ps_arguments, _ps))
register(Command('stop', 'stop deployed engines by name', _stop_arguments, _stop))
register(Command('logs', "print (or follow) a deployment's log", _logs_arguments, _logs))
