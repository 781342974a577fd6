"""One finetune run: a folder, a job through a launcher, its progress, and new weights.

A run lives in ``<target>/<base>-<trainset>-<YYYYmmdd-HHMMSS>/``. While the job trains it
is ``<target>/.<name>.partial/``, and it is renamed only when the job succeeded and wrote
its weights, so an interrupted or failed run never looks like a model (the partial folder
is removed; the job's log stays in the launcher's log folder and is named in the error).
lazyllm's own files sit in the run's hidden ``.lazyllm/`` folder: ``job.json``, the
normalized ``trainset.jsonl`` and, at the end, ``job.log``; the job writes the weights and
``metrics.json`` beside it.
"""
from __future__ import annotations

import logging
import os
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from .._config import config, expand_user
from .._log import get_logger
from .._names import safe_name
from .._progress import Progress
from ..errors import FinetuneError
from .jobs._protocol import JobConfig, parse_error, parse_progress

__all__ = ['run_finetune', 'runs_root', 'latest_run']

_RUN_NAME = re.compile(r'^[A-Za-z0-9._-]+-\d{8}-\d{6}(-\d+)?$')


def runs_root(target_path: str | os.PathLike | None = None) -> Path:
    return expand_user(target_path or config['finetune_dir'] or config.home() / 'finetuned',
                       'target_path (or LAZYLLM_FINETUNE_DIR)')


def latest_run(root: Path, base_name: str) -> Path | None:
    """The newest complete run of ``base_name`` under ``root`` (None if there is none)."""
    if not root.is_dir():
        return None
    runs = [p for p in root.iterdir() if p.is_dir() and p.name.startswith(base_name + '-')
            and _RUN_NAME.match(p.name) and (p / 'metrics.json').is_file()]
    return max(runs, key=lambda p: p.stat().st_mtime, default=None)


def _new_run(root: Path, base_name: str, trainset_name: str) -> tuple[Path, Path]:
    """(final path, partial path) of a new run; the partial folder is created."""
    root.mkdir(parents=True, exist_ok=True)
    base, data = safe_name(base_name, 40, 'model'), safe_name(trainset_name, 40, 'trainset')
    stem = f'{base}-{data}-{time.strftime("%Y%m%d-%H%M%S")}'
    for n in range(1000):
        name = stem if n == 0 else f'{stem}-{n}'
        final, partial = root / name, root / f'.{name}.partial'
        if not final.exists():
            try:
                partial.mkdir()
                return final, partial
            except FileExistsError:
                continue
    raise FinetuneError(f'cannot create a run folder under {root}: clean it up')


def _watch(job: Any, title: str) -> None:
    """Wait for ``job``, showing the progress lines of its log as they are written: a bar
    with the loss on a terminal, else a WARNING line every 10 s (training takes minutes, and
    a run that says nothing at the default log level looks hung)."""
    offset, tail = 0, b''
    with Progress(title, unit='step', level=logging.WARNING) as progress:
        while True:
            ended = job.ended
            chunk = job.read_output(offset)
            offset += len(chunk)
            *lines, tail = (tail + chunk).split(b'\n')
            latest = None
            for line in lines:
                latest = parse_progress(line.decode('utf-8', 'replace')) or latest
            if latest is not None:
                loss = latest.get('loss')
                progress.show('' if loss is None else f'loss {loss:.4f}',
                              done=latest.get('step') or 0, total=latest.get('total'))
            if ended:
                return
            time.sleep(0.5)


def run_finetune(*, method: Any, task: str, base: Path, trainset: Any, options: dict,
                 root: Path, launcher: Any = None, python: str | None = None) -> Path:
    """Train ``method`` on ``trainset`` from ``base`` through ``launcher``; the new run's
    folder. Raises FinetuneError with the job's reason and last log lines if it fails.
    On a cluster launcher the job reads ``job.json`` and writes the weights where this
    process put the run folder: ``root`` must be on a filesystem the nodes share."""
    from ..launch import get_launcher
    python = python or config['engine_python'] or sys.executable
    method.check_installed(python)
    final, partial = _new_run(root, base.name, trainset.name)
    meta = partial / '.lazyllm'
    meta.mkdir()
    trainset.write(meta / 'trainset.jsonl')
    job_json = meta / 'job.json'
    JobConfig(task, str(base), str(meta / 'trainset.jsonl'), str(partial), options) \
        .save(job_json)
    get_logger().info('finetuning %s with %s on %d records -> %s', base, method.name,
                      len(trainset.records), final)
    job = None
    try:
        job = get_launcher(launcher).launch(method.argv(str(job_json), python),
                                            name=f'finetune-{method.name}-{base.name}')
        _watch(job, f'{method.name} {base.name}')
        log = job.logs(100000)
        if job.status != 'exited' or not (partial / 'metrics.json').is_file():
            ended = job.exit_text
            why = parse_error(log) or f'the job ended with status {job.status}' + \
                (f' ({ended})' if ended else '')
            tail = '\n'.join(log.rstrip().splitlines()[-20:])
            raise FinetuneError(f'finetuning {base.name} with {method.name} failed: {why}\n'
                                f'Last log lines:\n{tail}\nFull log: {job.log_path}')
        (meta / 'job.log').write_bytes(job.read_output(0))
        os.replace(partial, final)
        return final
    except BaseException:
        if job is not None:
            job.stop()
        shutil.rmtree(partial, ignore_errors=True)
        raise
