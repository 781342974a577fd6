"""Progress of long work run from the command line, on stderr.

A deploy waits minutes for an engine and a pull downloads gigabytes. On a terminal a
spinner line shows the state; without one (a CI log, ``2> file``, a detached deploy's log)
a plain line every ``progress_interval`` seconds (default 10) shows that the command is
alive and what it waits for. stdout stays the command's result, so ``--json`` output is
unchanged. The lines themselves are lazyllm/_progress.py's; this module adds the CLI's own
part: :func:`to_stderr` sends the library's progress (an engine's wait) to stderr instead of
INFO log records, only inside the CLI, so Python API users are not affected; and
:class:`Heartbeat` reports on work that has no progress of its own (a download) by asking a
status function.
"""
from __future__ import annotations

import os
import sys
import threading
from typing import Any, Callable

from .._config import config
from .._progress import Progress

__all__ = ['to_stderr', 'Heartbeat', 'folder_bytes', 'human_bytes']


def _interval() -> float:
    from ..errors import ConfigError
    every = config['progress_interval']
    if not every > 0:
        raise ConfigError(f'progress_interval is {every}: it must be a number of seconds > 0 '
                          '(LAZYLLM_PROGRESS_INTERVAL, default 10).')
    return float(every)


def to_stderr() -> None:
    """Show the library's progress (an engine's wait) as lines on stderr, not log records,
    in this process."""
    Progress.stderr_every = _interval()


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

    def __init__(self, what: str, status: Callable[[], str] | None = None,
                 stream: Any = None):
        self.status = status or (lambda: '')
        self.progress = Progress(what, every=_interval(), stream=stream or sys.stderr)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, name='lazyllm-progress', daemon=True)

    def _status(self) -> str:
        try:
            return self.status()
        except Exception as e:   # a failing probe must not end the work it reports on
            return f'({type(e).__name__})'

    def _beat(self) -> None:
        # a spinner turns four times a second; plain lines come at the interval, which this
        # thread keeps (so the status, e.g. a folder's size, is computed only that often)
        step = 0.25 if self.progress.tty else self.progress.every
        while not self._done.wait(step):
            self.progress.show(self._status(), due=True)

    def __enter__(self) -> 'Heartbeat':
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._done.set()
        self._thread.join()
        self.progress.close()
