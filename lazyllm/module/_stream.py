"""Where streamed chunks go when a module with ``stream=`` on is called like a function.

``m.stream(x)`` hands chunks to the caller directly. But a streaming module deep inside a
pipeline is called by the pipeline, not by you; its chunks are sent to the listeners
registered with ``listen_stream`` in the calling context (a context variable, so threads
started by ``parallel`` and ``warp`` see the listeners of the code that started them)::

    with lazyllm.listen_stream(lambda chunk, module: print(chunk, end='', flush=True)):
        answer = ppl('tell me a story')     # prints tokens as they come; returns the full text

The ``stream`` option is ``False``, ``True`` or a dict with ``prefix``, ``suffix`` (sent
before the first and after the last chunk) and ``color`` (an ANSI colour name applied to
every chunk, for terminals).
"""
from __future__ import annotations

import contextlib
import contextvars
from typing import Any, Callable, Iterator

from ..errors import InputError

__all__ = ['listen_stream', 'StreamOptions']

Listener = Callable[[str, Any], None]
_listeners: contextvars.ContextVar[tuple[Listener, ...]] = contextvars.ContextVar(
    'lazyllm_stream_listeners', default=())

_COLORS = {'black': 30, 'red': 31, 'green': 32, 'yellow': 33, 'blue': 34, 'magenta': 35,
           'cyan': 36, 'white': 37}
_KEYS = {'color', 'prefix', 'suffix'}


@contextlib.contextmanager
def listen_stream(listener: Listener) -> Iterator[None]:
    """Send every chunk streamed by modules called inside this block to ``listener``."""
    if not callable(listener):
        raise InputError('listen_stream() needs a callable (chunk, module) -> None, '
                         f'got {type(listener).__name__}.')
    token = _listeners.set(_listeners.get() + (listener,))
    try:
        yield
    finally:
        _listeners.reset(token)


class StreamOptions:
    """The validated ``stream=`` option of a module."""
    __slots__ = ('enabled', 'color', 'prefix', 'suffix')

    def __init__(self, value: Any = False):
        if isinstance(value, StreamOptions):
            value = value.as_value()
        if not isinstance(value, (bool, dict)):
            raise InputError(f'stream must be True, False or a dict with keys {sorted(_KEYS)}, '
                             f'got {type(value).__name__}.')
        opts = value if isinstance(value, dict) else {}
        unknown = set(opts) - _KEYS
        if unknown:
            raise InputError(f'unknown stream option(s) {sorted(unknown)}: '
                             f'use only {sorted(_KEYS)}.')
        color = opts.get('color')
        if color is not None and color not in _COLORS:
            raise InputError(f'stream color {color!r} is not one of {sorted(_COLORS)}.')
        self.enabled = bool(value)
        self.color, self.prefix, self.suffix = color, opts.get('prefix', ''), opts.get('suffix', '')

    def as_value(self) -> bool | dict:
        opts = {k: getattr(self, k) for k in ('color', 'prefix', 'suffix') if getattr(self, k)}
        return opts or self.enabled

    def paint(self, chunk: str) -> str:
        return f'\033[{_COLORS[self.color]}m{chunk}\033[0m' if self.color else chunk

    def emit(self, chunks: Iterator[Any], module: Any) -> list:
        """Forward ``chunks`` to the current listeners (decorated) and return them all."""
        listeners = _listeners.get()
        received = []

        def send(text: str) -> None:
            for listener in listeners:
                listener(text, module)

        if listeners and self.prefix:
            send(self.paint(self.prefix))
        for chunk in chunks:
            received.append(chunk)
            if listeners:
                send(self.paint(chunk) if isinstance(chunk, str) else chunk)
        if listeners and self.suffix:
            send(self.paint(self.suffix))
        return received

    def __repr__(self) -> str:
        return repr(self.as_value())
