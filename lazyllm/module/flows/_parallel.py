"""``parallel``: give every branch the same input, run them concurrently, combine results.

By default the result is a ``package`` of the branches' outputs, in branch order. Choose
another shape fluently (once per parallel)::

    parallel(f, g).sum            # f(x) + g(x); strings are concatenated
    parallel(f, g).join(', ')     # ', '.join((str(f(x)), str(g(x))))
    parallel(a=f, b=g).asdict     # {'a': f(x), 'b': g(x)}
    parallel(f, g).astuple / .aslist
    parallel.sequential(f, g)     # same, one branch after the other in this thread
    parallel(f, g, _concurrent=2) # at most 2 branches at a time

Run only some branches of a call with ``_kept_items=`` or ``_skip_items=`` (a branch name,
an index, or a list of them): ``p(x, _skip_items='b')``.

A branch gets the input as is: a single-branch parallel still returns a package of one
value, so ``parallel(parallel(f), parallel(f)).sum(1) == (2, 2)`` (the packages are joined).
``diverter`` and ``warp`` are parallels that split their input instead.
"""
from __future__ import annotations

import contextvars
import functools
import operator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Sequence

from ..._config import config
from ...errors import InputError
from ._barrier import Phaser, in_branch, outside_branches
from ._base import FlowBase
from ._package import package

__all__ = ['Parallel', 'parallel', 'run_branches']

_SELECTORS = ('_kept_items', '_skip_items')


class Parallel(FlowBase):
    """Branches on one input; see the module docstring."""

    _options = ('_concurrent',)

    def __init__(self, *branches: Callable, _concurrent: bool | int = True,
                 **named: Any):
        if not (isinstance(_concurrent, bool)
                or (isinstance(_concurrent, int) and _concurrent >= 1)):
            raise InputError(f'_concurrent must be True, False or a number of threads >= 1, '
                             f'got {_concurrent!r}.')
        super().__init__(*branches, **named)
        self._concurrent = _concurrent
        self._combine: Callable[[list, list[str]], Any] | None = None
        self._combine_name = ''

    @classmethod
    def sequential(cls, *branches: Callable, **named: Callable) -> 'Parallel':
        """The same flow with branches run one after the other, in order, in the caller's
        thread (barriers inside pass through)."""
        return cls(*branches, _concurrent=False, **named)

    # -- the result's shape ---------------------------------------------------------------
    def _set(self, name: str, combine: Callable[[list, list[str]], Any]) -> 'Parallel':
        if self._combine is not None:
            raise InputError(f'this {type(self).__name__} already returns .{self._combine_name};'
                             f' choose one shape: a second .{name} would replace it.')
        self._combine, self._combine_name = combine, name
        return self

    @property
    def asdict(self) -> 'Parallel':
        """Return ``{branch name: output}``; every branch must be named (checked now for
        the branches already given, at the call for those added in a with block)."""
        _require_names([self.step_label(i) for i in range(len(self._steps))])
        return self._set('asdict', _as_dict)

    @property
    def astuple(self) -> 'Parallel':
        return self._set('astuple', lambda results, names: tuple(results))

    @property
    def aslist(self) -> 'Parallel':
        return self._set('aslist', lambda results, names: list(results))

    @property
    def sum(self) -> 'Parallel':
        """Add the outputs up: strings are concatenated (others turned into str), other
        values added with ``+`` (lists and packages are joined)."""
        return self._set('sum', _sum)

    def join(self, sep: str = '') -> 'Parallel':
        """Join the outputs, each turned into a str, with ``sep``."""
        if not isinstance(sep, str):
            raise InputError(f'join() needs a str separator, got {type(sep).__name__}: '
                             "write .join(', ').")
        return self._set(f'join({sep!r})', lambda results, names: sep.join(map(str, results)))

    # -- running --------------------------------------------------------------------------
    def forward(self, *args: Any, _kept_items: Any = None, _skip_items: Any = None,
                **kwargs: Any) -> Any:
        chosen = self._select(_kept_items, _skip_items)
        inputs = self._branch_inputs(args, kwargs, chosen)
        calls = [functools.partial(self._run_step, i, *a, **kw)
                 for i, (a, kw) in zip(chosen, inputs)]
        results = run_branches(calls, self._concurrent)
        return self._shape(results, [self.step_label(i) for i in chosen])

    def _branch_inputs(self, args: tuple, kwargs: dict, chosen: list[int]) -> list:
        """The (args, kwargs) each chosen branch gets: here, the same input for all."""
        return [(args, kwargs)] * len(chosen)

    def _shape(self, results: list, names: list[str]) -> Any:
        return package(results) if self._combine is None else self._combine(results, names)

    def _select(self, kept: Any, skipped: Any) -> list[int]:
        """Indexes of the branches a call runs, from ``_kept_items`` / ``_skip_items``."""
        if kept is not None and skipped is not None:
            raise InputError('give _kept_items or _skip_items, not both.')
        if kept is None and skipped is None:
            return list(range(len(self._steps)))
        given = self._branch_indexes(kept if kept is not None else skipped)
        if kept is not None:
            chosen = [i for i in range(len(self._steps)) if i in given]
        else:
            chosen = [i for i in range(len(self._steps)) if i not in given]
        if not chosen:
            raise InputError(f'the selection leaves no branch of this {type(self).__name__} to '
                             'run: keep at least one branch.')
        return chosen

    def _branch_indexes(self, items: Any) -> set[int]:
        items = list(items) if isinstance(items, (list, tuple, set)) else [items]
        found = set()
        for item in items:
            if isinstance(item, str) and item in self._step_names:
                found.add(self._step_names[item])
            elif isinstance(item, int) and not isinstance(item, bool) \
                    and 0 <= item < len(self._steps):
                found.add(item)
            else:
                raise InputError(f'{item!r} is not a branch of this {type(self).__name__}: use '
                                 f'a name in {sorted(self._step_names)} or an index '
                                 f'0..{len(self._steps) - 1}.')
        return found

    def _repr_head(self) -> str:
        head = type(self).__name__ + ('' if self._concurrent else '.sequential')
        return head + (f'.{self._combine_name}' if self._combine_name else '')


def _require_names(names: list[str]) -> None:
    if not all(names):
        raise InputError('.asdict needs every branch named: parallel(a=f, b=g).asdict, or '
                         'assign the branches by name in a with block.')


def _as_dict(results: list, names: list[str]) -> dict:
    _require_names(names)
    return dict(zip(names, results))


def _sum(results: list, names: list[str]) -> Any:
    if not results:
        raise InputError('.sum of no branch output: there is nothing to add; add a branch '
                         'or use .aslist.')
    if isinstance(results[0], str):
        return ''.join(map(str, results))
    try:
        return functools.reduce(operator.add, results)
    except TypeError as e:
        kinds = ', '.join(sorted({type(r).__name__ for r in results}))
        raise InputError(f'.sum cannot add the branch outputs ({kinds}): {e}. Return values '
                         'that support +, or use .aslist / .join().') from e


def run_branches(calls: Sequence[Callable[[], Any]], concurrent: bool | int) -> list:
    """Run ``calls`` as the branches of one parallel and return their results in order.

    Concurrent branches run in threads (at most ``concurrent`` threads when it is a number,
    else the ``max_workers`` setting), each in a copy of the caller's context, with a
    shared ``Phaser`` for the barriers inside. Every branch finishes before the first error
    (in branch order) is raised, with its own type."""
    if not concurrent or len(calls) <= 1:
        return [outside_branches(c) for c in calls] if not concurrent else \
            [in_branch(Phaser(1, 1), 0, c) for c in calls]
    limit = config['max_workers'] if concurrent is True else concurrent
    workers = max(1, min(len(calls), limit))
    phaser = Phaser(len(calls), workers)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix='lazyllm-flow') as pool:
        futures = [pool.submit(contextvars.copy_context().run, in_branch, phaser, i, c)
                   for i, c in enumerate(calls)]
        return [f.result() for f in futures]


parallel = Parallel
