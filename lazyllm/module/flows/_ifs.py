"""``ifs``: a two-way branch.

``ifs(cond, true_path, false_path)(x)`` runs ``true_path(x)`` when the condition holds,
else ``false_path(x)``. The condition is one of:

- a callable taking the input (a package is unpacked into its arguments, keyword arguments
  of the call are passed too), judged by truth value;
- a callable taking no parameters at all (``lambda: flag.is_set()``), called with none;
- ``True`` or ``False``, a constant.

The branches are the steps ``true_path`` and ``false_path``.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable

from ...errors import InputError
from ._base import FlowBase
from ._trace import record_step_failure

__all__ = ['IfS', 'ifs']


class IfS(FlowBase):
    """A condition and two branches; see the module docstring."""

    _keyword_steps = False
    _adopts_nested_flows = False

    def __init__(self, cond: Callable | bool, true_path: Callable, false_path: Callable,
                 **options: Any):
        if not (callable(cond) or isinstance(cond, bool)):
            raise InputError(f'ifs() condition must be a callable or True/False, got '
                             f'{type(cond).__name__} {cond!r}.')
        super().__init__(**options)
        self._cond = cond
        self._cond_takes_nothing = callable(cond) and _takes_no_parameters(cond)
        self._add_step('true_path', true_path)
        self._add_step('false_path', false_path)

    def _assign_in_block(self, key: str, value: Any) -> None:
        raise InputError('an ifs has exactly its condition and two branches: give them to '
                         'ifs(cond, true_path, false_path).')

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self._run_step(0 if self._holds(args, kwargs) else 1, *args, **kwargs)

    def _holds(self, args: tuple, kwargs: dict) -> bool:
        if isinstance(self._cond, bool):
            return self._cond
        try:
            return bool(self._cond() if self._cond_takes_nothing else self._cond(*args, **kwargs))
        except Exception as e:
            record_step_failure(e, self, 'condition')
            raise

    def _repr_head(self) -> str:
        cond = self._cond if isinstance(self._cond, bool) else \
            getattr(self._cond, '__qualname__', type(self._cond).__name__)
        return f'IfS({cond})'


def _takes_no_parameters(func: Callable) -> bool:
    try:
        return len(inspect.signature(func).parameters) == 0
    except (TypeError, ValueError):     # no signature (some builtins): call with the input
        return False


ifs = IfS
