"""``warp``: one flow over many inputs, concurrently; results keep the inputs' order."""
from __future__ import annotations

import functools
from typing import Any, Callable

from ._base import FlowBase, run_concurrently
from ._package import call_with, package
from ._pipeline import Pipeline

__all__ = ['Warp', 'warp']


class Warp(FlowBase):
    """``warp(f, g)(a, b, c) == package(g(f(a)), g(f(b)), g(f(c)))``.

    Inputs are the positional arguments, or the items of a single list/tuple argument. Each
    input that is a ``package`` is unpacked for the first step. The steps run as a pipeline
    on each input, all inputs concurrently."""

    def __init__(self, *steps: Callable, **named: Callable):
        super().__init__(*steps, **named)
        self._body = Pipeline(*self._steps) if len(self._steps) > 1 else None

    def forward(self, *args: Any) -> package:
        items = args[0] if len(args) == 1 and isinstance(args[0], (list, tuple)) \
            and not isinstance(args[0], package) else args
        body = self._body or (self._steps[0] if self._steps else (lambda x: x))
        results = run_concurrently([functools.partial(call_with, body, item) for item in items])
        return package(results)


warp = Warp
