"""The flows whose ``with`` block is open, innermost last.

A flow whose ``with`` block opens inside another flow's ``with`` block, in the same
function, becomes the outer flow's next step::

    with pipeline() as p:
        p.f1 = f
        with pipeline() as inner:      # p's second step (unnamed)
            inner.a = g
        with parallel() as p.both:     # p's third step, named 'both' (added once)
            p.both.x = h

Only blocks written in the same function are nested this way: a helper function that
builds a flow in its own ``with`` block returns it, and the caller assigns it as a step.
The stack is a context variable, so threads and tasks building flows do not see each
other's blocks.
"""
from __future__ import annotations

import contextvars
import sys
from types import FrameType
from typing import Any

__all__ = ['open_block', 'close_block', 'caller_frame']

# (flow, frame of the code that opened its with block)
_open: contextvars.ContextVar[tuple[tuple[Any, FrameType], ...]] = contextvars.ContextVar(
    'lazyllm_flow_blocks', default=())

_PACKAGE = __name__.rsplit('.', 1)[0]


def caller_frame() -> FrameType:
    """The first frame outside the flows package: the user code opening a with block
    (flow subclasses may override ``__enter__`` and call ours)."""
    frame = sys._getframe(1)
    while frame.f_back is not None and frame.f_globals.get('__name__', '').startswith(
            _PACKAGE):
        frame = frame.f_back
    return frame


def open_block(flow: Any, frame: FrameType) -> Any:
    """Push ``flow``; return the flow whose block encloses it in the same frame, or None."""
    blocks = _open.get()
    parent = blocks[-1][0] if blocks and blocks[-1][1] is frame else None
    _open.set(blocks + ((flow, frame),))
    return parent


def close_block(flow: Any) -> None:
    """Pop ``flow`` (and anything left above it by a block that was not closed)."""
    blocks = _open.get()
    for i in range(len(blocks) - 1, -1, -1):
        if blocks[i][0] is flow:
            _open.set(blocks[:i])
            return
