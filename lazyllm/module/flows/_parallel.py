"""``parallel``: give every branch the same input, run them concurrently, combine results.

By default the result is a ``package`` of the branches' outputs, in branch order. Choose
another shape fluently::

    parallel(f, g).sum            # f(x) + g(x)
    parallel(f, g).join(', ')     # ', '.join((f(x), g(x)))
    parallel(a=f, b=g).asdict     # {'a': f(x), 'b': g(x)}
    parallel(f, g).astuple / .aslist
    parallel.sequential(f, g)     # same, one branch after the other in this thread
"""
from __future__ import annotations

import functools
import operator
from typing import Any, Callable

from ...errors import InputError
from ._base import FlowBase, run_concurrently
from ._package import package

__all__ = ['Parallel', 'parallel']


class Parallel(FlowBase):
    """Branches on one input; see the module docstring."""

    def __init__(self, *branches: Callable, _concurrent: bool = True, **named: Callable):
        super().__init__(*branches, **named)
        self._concurrent = _concurrent
        self._combine: Callable[[list], Any] = package
        self._combine_name = ''

    @classmethod
    def sequential(cls, *branches: Callable, **named: Callable) -> 'Parallel':
        """A parallel whose branches run one after the other, in order."""
        return cls(*branches, _concurrent=False, **named)

    def _set(self, name: str, combine: Callable[[list], Any]) -> 'Parallel':
        self._combine, self._combine_name = combine, name
        return self

    @property
    def asdict(self) -> 'Parallel':
        if len(self._step_names) != len(self._steps):
            raise InputError('parallel(...).asdict needs every branch named: '
                             'parallel(a=f, b=g).asdict, or assign branches in a with block.')
        keys = sorted(self._step_names, key=self._step_names.get)
        return self._set('asdict', lambda r: dict(zip(keys, r)))

    @property
    def astuple(self) -> 'Parallel':
        return self._set('astuple', tuple)

    @property
    def aslist(self) -> 'Parallel':
        return self._set('aslist', list)

    @property
    def sum(self) -> 'Parallel':
        return self._set('sum', lambda r: functools.reduce(operator.add, r))

    def join(self, sep: str = '') -> 'Parallel':
        if not isinstance(sep, str):
            raise InputError(f'join() needs a str separator, got {type(sep).__name__}.')
        return self._set(f'join({sep!r})', lambda r: sep.join(map(str, r)))

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        calls = [functools.partial(b, *args, **kwargs) for b in self._steps]
        results = run_concurrently(calls) if self._concurrent else [c() for c in calls]
        return self._combine(results) if results else package()

    def _repr_head(self) -> str:
        head = 'Parallel' if self._concurrent else 'Parallel.sequential'
        return head + (f'.{self._combine_name}' if self._combine_name else '')


parallel = Parallel
