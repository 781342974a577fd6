"""The contract between lazyllm and a finetune job process.

lazyllm writes ``job.json`` into the run folder and launches
``python -m lazyllm.finetune.jobs.<method> <run>/job.json``. The job:

- reads :class:`JobConfig`: ``task`` (``embed``, ``rerank`` or ``llm``), ``base`` (the base
  model folder), ``trainset`` (a normalized JSON-lines file, checked by lazyllm before the
  launch: ``{"query", "pos": [...], "neg": [...]}`` for embed/rerank, ``{"messages": [...]}``
  for llm), ``output`` (the folder to write the weights into; it exists and is empty) and
  ``options`` (the method's options, already checked, defaults filled in);
- prints one line ``LAZYLLM_PROGRESS {"step", "total", "loss", "epoch"}`` per training step
  (lazyllm turns them into a progress bar with the loss);
- writes the weights into ``output`` (a model folder lazyllm's engines serve, or a LoRA
  adapter folder) and ``output/metrics.json`` (:class:`Metrics`);
- on failure prints ``LAZYLLM_ERROR <reason>`` (one line: what went wrong and what to do)
  before the traceback, and exits non-zero.

Standard library only: this module is imported by lazyllm (to parse the lines) and by jobs.
"""
from __future__ import annotations

import json
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

__all__ = ['PROGRESS', 'ERROR', 'JobError', 'JobConfig', 'Metrics', 'report',
           'parse_progress', 'parse_error', 'run_job', 'trainer_callback', 'base_config']

PROGRESS = 'LAZYLLM_PROGRESS'
ERROR = 'LAZYLLM_ERROR'


class JobError(Exception):
    """A failure the job understands: its message (cause and fix) is the reason shown to
    the user as is, without a traceback class name in front."""


@dataclass
class JobConfig:
    task: str
    base: str
    trainset: str
    output: str
    options: dict = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path) -> JobConfig:
        return cls(**json.loads(Path(path).read_text(encoding='utf-8')))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.__dict__, indent=2), encoding='utf-8')

    def records(self) -> list[dict]:
        """The training records, one dict per line of the trainset file."""
        with open(self.trainset, encoding='utf-8') as f:
            return [json.loads(line) for line in f if line.strip()]


def base_config(base: str) -> dict:
    """The ``config.json`` of the base model folder, or a JobError saying what is wrong
    (checked before the heavy imports, so a bad path fails in a fraction of a second)."""
    folder = Path(base)
    if not folder.is_dir():
        raise JobError(f'base model folder {base} does not exist: download the model first '
                       f'(lazyllm.hub) or give the path of a local model folder')
    try:
        config = json.loads((folder / 'config.json').read_text(encoding='utf-8'))
    except (OSError, ValueError):
        config = None
    if not isinstance(config, dict):
        raise JobError(f'base model folder {base} has no readable config.json: it is not a '
                       f'transformers model folder')
    return config


def report(step: int, total: int, loss: float | None, epoch: float | None = None) -> None:
    """Print one progress line (flushed: the parent reads the log while the job runs)."""
    data = {'step': step, 'total': total, 'loss': loss, 'epoch': epoch}
    print(f'{PROGRESS} {json.dumps(data)}', flush=True)


def parse_progress(line: str) -> dict | None:
    """The data of a progress line, or None for any other line."""
    if not line.startswith(PROGRESS + ' '):
        return None
    try:
        data = json.loads(line[len(PROGRESS) + 1:])
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def parse_error(log: str) -> str:
    """The job's own reason for failing, from its log ('' if it gave none)."""
    reasons = [line[len(ERROR) + 1:].strip() for line in log.splitlines()
               if line.startswith(ERROR + ' ')]
    return reasons[-1] if reasons else ''


class Metrics:
    """What a job measured: the loss of every step, written to ``output/metrics.json``."""

    def __init__(self) -> None:
        self.losses: list[float] = []
        self.started = time.monotonic()

    def add(self, loss: float) -> None:
        self.losses.append(float(loss))

    def write(self, output: str | Path, **extra: Any) -> dict:
        data = {'final_loss': self.losses[-1] if self.losses else None,
                'first_loss': self.losses[0] if self.losses else None,
                'losses': self.losses, 'steps': len(self.losses),
                'seconds': round(time.monotonic() - self.started, 3), **extra}
        Path(output, 'metrics.json').write_text(json.dumps(data, indent=2), encoding='utf-8')
        return data


def trainer_callback(metrics: Metrics) -> Any:
    """A transformers TrainerCallback that reports every logged loss (set logging_steps=1)
    and records it in ``metrics``. Imports transformers: call it in the job process only."""
    from transformers import TrainerCallback

    class _Progress(TrainerCallback):
        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None,
                   **kw: Any) -> None:
            loss = (logs or {}).get('loss')
            if loss is not None:
                metrics.add(loss)
                report(state.global_step, state.max_steps, float(loss), state.epoch)

    return _Progress()


def run_job(main: Callable[[JobConfig], Any]) -> None:
    """The entry point of a job module: ``run_job(main)`` under ``if __name__ == '__main__'``.
    Loads the config named on the command line, runs ``main``, and turns an exception into
    an ``LAZYLLM_ERROR`` line and exit code 1."""
    if len(sys.argv) != 2:
        print(f'{ERROR} usage: python -m {sys.argv[0]} <job.json>', flush=True)
        raise SystemExit(2)
    try:
        main(JobConfig.load(sys.argv[1]))
    except Exception as e:   # the reason first, on one line, then the details
        text = str(e) if isinstance(e, JobError) else f'{type(e).__name__}: {e}'
        reason = ' '.join(text.split())[:500]
        print(f'{ERROR} {reason}', flush=True)
        traceback.print_exc()
        raise SystemExit(1) from None
