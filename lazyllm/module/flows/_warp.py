"""``warp``: one flow over many inputs, concurrently; results keep the inputs' order.

::

    warp(f)(1, 2, 3) == package(f(1), f(2), f(3))
    warp(f, g)([a, b])  == package(g(f(a)), g(f(b)))     # steps run as a pipeline per input
    warp(f).sum(1, 2)   == f(1) + f(2)                   # parallel's shapes, but no .asdict

The inputs are the positional arguments, or the items of a single list/tuple argument (a
``package`` output of the previous step arrives as separate arguments, so it is split too).
Any other single argument (a dict, a string) is one input. An input that is a ``package``
is unpacked into the first step's arguments; keyword arguments go to every input's first
step. Barriers inside the steps synchronise the inputs, like a parallel's branches.
"""
from __future__ import annotations

import functools
from typing import Any

from ...errors import InputError
from ._package import as_args
from ._parallel import Parallel, run_branches

__all__ = ['Warp', 'warp']


class Warp(Parallel):
    """The same steps on every input; see the module docstring."""

    @property
    def asdict(self) -> 'Warp':
        raise InputError('warp results have no names, so .asdict does not apply: use a '
                         'parallel or diverter with named branches, or .aslist.')

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        for option in ('_kept_items', '_skip_items'):
            if option in kwargs:
                raise InputError(f'{option} selects branches of a parallel; a warp has one '
                                 'body for every input: filter the inputs instead.')
        if not self._steps:
            raise InputError('this warp has no steps: give it one (warp(f)) or assign steps '
                             'in its with block.')
        items = args[0] if len(args) == 1 and isinstance(args[0], (list, tuple)) else args
        calls = [functools.partial(self._run_body, item, kwargs) for item in items]
        return self._shape(run_branches(calls, self._concurrent), [''] * len(calls))

    def _run_body(self, item: Any, kwargs: dict) -> Any:
        """The steps, as a pipeline, on one input."""
        value = self._run_step(0, *as_args(item), **kwargs)
        for i in range(1, len(self._steps)):
            value = self._run_step(i, *as_args(value))
        return value


warp = Warp
