"""Progress of long work, shown where the person waiting for it looks.

An engine loading (serve), training steps (finetune) and a command of the command line (a
download) take minutes; each reports through :class:`Progress`. On a terminal one line is
redrawn in place: a spinner with ``what (12s): status``, or a tqdm bar when the work is
counted (training steps). Without a terminal (a CI log, a pipe, a notebook that captures
stderr) a plain line ``what (12s): status`` is written every ``every`` seconds, and none for
work that ends sooner, so quick work stays quiet. Those lines go

- to lazyllm's log in a Python program, at the level the work asks for: the program's
  logging stays its own and nothing is written to its stderr behind its back;
- to stderr in the command line, which sets :attr:`Progress.stderr_every` (its
  ``progress_interval``): a ``lazyllm deploy`` in a CI log shows that it is alive instead of
  minutes of silence at the default log level;
- to the stream a caller owns, when it passes one (the command line's heartbeat).
"""
from __future__ import annotations

import logging
import sys
import time
from typing import Any, ClassVar, TypeVar

from ._log import get_logger

__all__ = ['Progress']

_P = TypeVar('_P', bound='Progress')

_SPIN = '|/-\\'
_WIDTH = 200     # a redrawn line longer than the terminal wraps, and is no longer redrawn


class Progress:
    """The progress of one piece of long work; see the module docstring. ``show`` reports
    its state; ``close`` (or leaving the ``with`` block) clears the terminal line.

    ``unit`` (e.g. ``'step'``) makes the work counted: a bar of ``done``/``total`` on a
    terminal, ``step 3/10`` in plain lines. ``level`` is the level of log records; ``every``
    the seconds between plain lines (default: ``stderr_every`` when the command line set it,
    else 10); ``stream`` where they go instead of the log.
    """

    stderr_every: ClassVar[float | None] = None   # set by the command line (cli/_progress.py)

    def __init__(self, what: str, *, unit: str | None = None, level: int = logging.INFO,
                 every: float | None = None, stream: Any = None):
        cli = type(self).stderr_every
        self.what, self.unit, self.level = what, unit, level
        self.stream = stream if stream is not None else (sys.stderr if cli is not None else None)
        self.every = every if every is not None else (cli or 10.0)
        self.tty = bool(getattr(self.stream or sys.stderr, 'isatty', lambda: False)())
        self.started = self.shown = time.monotonic()
        self.bar: Any = None     # counted work's tqdm bar, made at its first show on a terminal
        self.drawn = 0           # times the spinner line was drawn (its position)

    def show(self, status: str = '', *, done: int | None = None, total: int | None = None,
             elapsed: float | None = None, due: bool | None = None) -> None:
        """Report the work's state: ``status`` (an engine's latest log line, ``loss 0.52``,
        ``3 MB received``) and, for counted work, ``done`` of ``total`` units. ``elapsed``
        defaults to the seconds since this Progress began. ``due`` overrides the pace of
        plain lines for a caller that keeps its own (True: one now, False: none now)."""
        if self.tty:
            self._draw(status, done, total, elapsed)
            return
        now = time.monotonic()
        if not (now - self.shown >= self.every if due is None else due):
            return
        self.shown = now
        text = self._line(status, done, total, elapsed)
        if self.stream is None:
            get_logger().log(self.level, '%s', text)
        else:
            self.stream.write(text + '\n')
            self.stream.flush()

    def _line(self, status: str, done: int | None, total: int | None,
              elapsed: float | None) -> str:
        seconds = time.monotonic() - self.started if elapsed is None else elapsed
        parts = [f'{self.unit} {done}/{total or "?"}'] if self.unit and done is not None else []
        parts += [status] if status else []
        return f'{self.what} ({seconds:.0f}s)' + (': ' + ', '.join(parts) if parts else '')

    def _draw(self, status: str, done: int | None, total: int | None,
              elapsed: float | None) -> None:
        stream = self.stream or sys.stderr
        if self.unit:
            if self.bar is None:
                from tqdm.auto import tqdm
                self.bar = tqdm(total=total or None, desc=self.what, unit=self.unit, file=stream)
            if done is not None:
                self.bar.n = done
            if status:
                self.bar.set_postfix_str(status, refresh=False)
            self.bar.refresh()
            return
        self.drawn += 1
        stream.write(f'\r\033[K{_SPIN[self.drawn % 4]} '
                     f'{self._line(status, done, total, elapsed)}'[:_WIDTH])
        stream.flush()

    def close(self) -> None:
        """Leave the terminal clean: close the bar, or clear the spinner line."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        elif self.drawn:
            stream = self.stream or sys.stderr
            stream.write('\r\033[K')
            stream.flush()
            self.drawn = 0

    def __enter__(self: _P) -> _P:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
