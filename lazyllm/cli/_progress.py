"""Progress of long work run from the command line, on stderr.

A deploy waits minutes for an engine and a pull downloads gigabytes. On a terminal a
spinner line shows the state; without one (a CI log, ``2> file``, a detached deploy's log)
a plain line every ``progress_interval`` seconds (default 10) shows that the command is
alive and what it waits for. stdout stays the command's result, so ``--json`` output is
unchanged. Python API users are not affected: :func:`to_stderr` switches the deploy waiter
(lazyllm/serve/_readiness.py) from INFO log records to these lines only inside the CLI.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any, Callable

from .._config import config

__all__ = ['to_stderr', 'Heartbeat', 'folder_bytes', 'human_bytes']


def _interval() -> float:
    from ..errors import ConfigError
    every = config['progress_interval']
    if not every > 0:
        raise ConfigError(f'progress_interval is {every}: it must be a number of seconds > 0 '
                          '(LAZYLLM_PROGRESS_INTERVAL, default 10).')
    return float(every)


def to_stderr() -> None:
    """Show the deploy waiter's progress as lines on stderr (no terminal) in this process."""
    from ..serve._readiness import _Progress
    _Progress.stderr_every = _interval()


def human_bytes(n: float) -> str:
    for unit in ('B', 'kB', 'MB', 'GB'):
        if n < 1000 or unit == 'GB':
            return f'{n:.0f} {unit}' if unit == 'B' else f'{n:.1f} {unit}'
        n /= 1000
    return f'{n:.1f} GB'   # unreachable; keeps type checkers content


def folder_bytes(folder: os.PathLike[str] | str) -> int:
    """Bytes of the files under ``folder`` (0 when it does not exist); files vanishing while
    counted (a finished download renamed into place) are skipped."""
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


class Heartbeat:
    """While the ``with`` block runs: ``what (12s): <status()>`` on stderr, redrawn in place on
    a terminal (a spinner), else a line every ``progress_interval`` seconds. Nothing is shown
    for work that ends before the first interval, so quick commands stay quiet."""

    SPIN = '|/-\\'

    def __init__(self, what: str, status: Callable[[], str] | None = None,
                 stream: Any = None):
        self.what, self.status = what, status or (lambda: '')
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, 'isatty', lambda: False)())
        self.every = _interval()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, name='lazyllm-progress', daemon=True)
        self._drawn = False

    def _text(self, elapsed: float) -> str:
        try:
            status = self.status()
        except Exception as e:   # a failing probe must not end the work it reports on
            status = f'({type(e).__name__})'
        return f'{self.what} ({elapsed:.0f}s)' + (f': {status}' if status else '')

    def _beat(self) -> None:
        started, tick = time.monotonic(), 0
        step = 0.25 if self.tty else self.every
        while not self._done.wait(step):
            text = self._text(time.monotonic() - started)
            if self.tty:
                tick += 1
                self.stream.write(f'\r\033[K{self.SPIN[tick % 4]} {text}'[:200])
                self._drawn = True
            else:
                self.stream.write(text + '\n')
            self.stream.flush()

    def __enter__(self) -> 'Heartbeat':
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._done.set()
        self._thread.join()
        if self._drawn:
            self.stream.write('\r\033[K')
            self.stream.flush()
