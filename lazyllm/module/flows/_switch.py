"""``switch`` and ``ifs``: pick one branch by the input.

::

    s = switch(lambda x: x < 0, negate,       # condition (callable or value), branch, …
               0, lambda x: 'zero',           # a non-callable condition is compared with ==
               'default', str)                # optional fallback
    with switch() as s:                       # the same, built in a with block
        s.case[lambda x: x < 0, negate]
        s.case['default', str]
    ifs(lambda x: x > 0, then_f, else_f)

With ``judge_on_full_input=False`` the first positional input is the condition value and
the rest go to the branch (``switch(..., judge_on_full_input=False)('upper', 'text')``).
"""
from __future__ import annotations

from typing import Any, Callable

from ...errors import InputError
from ._base import FlowBase
from ._package import pack

__all__ = ['Switch', 'switch', 'IfS', 'ifs']

DEFAULT = 'default'


class _CaseAdder:
    def __init__(self, owner: 'Switch'):
        self._owner = owner

    def __getitem__(self, pair: tuple) -> None:
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise InputError('use s.case[condition, branch] with exactly two items.')
        self._owner._add_case(*pair)


class Switch(FlowBase):
    """The first case whose condition matches runs; see the module docstring."""

    def __init__(self, *pairs: Any, judge_on_full_input: bool = True):
        if len(pairs) % 2:
            raise InputError('switch() takes condition, branch pairs: got an odd number '
                             f'({len(pairs)}) of arguments; add the missing branch.')
        super().__init__()
        self._conds: list[Any] = []
        self._judge_on_full_input = judge_on_full_input
        for i in range(0, len(pairs), 2):
            self._add_case(pairs[i], pairs[i + 1])

    @property
    def case(self) -> _CaseAdder:
        return _CaseAdder(self)

    def _add_case(self, cond: Any, branch: Callable) -> None:
        if DEFAULT in [c for c in self._conds if isinstance(c, str)]:
            raise InputError("the 'default' case must be the last one in a switch.")
        self._add_step(None, branch)
        self._conds.append(cond)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if self._judge_on_full_input:
            value, rest = pack(args), args
        elif args:
            value, rest = args[0], args[1:]
        else:
            raise InputError('a switch with judge_on_full_input=False needs the condition '
                             'value as its first input.')
        for cond, branch in zip(self._conds, self._steps):
            if _matches(cond, value, rest if self._judge_on_full_input else (value,)):
                return branch(*rest, **kwargs)
        raise InputError(f'no case of the switch matched {value!r}: add a case for it or a '
                         "'default' branch.")

    def _repr_children(self) -> list[tuple[str, Any]]:
        return [(_cond_label(c), s) for c, s in zip(self._conds, self._steps)]


def _matches(cond: Any, value: Any, args: tuple) -> bool:
    if isinstance(cond, str) and cond == DEFAULT:
        return True
    if callable(cond):
        return bool(cond(*args))
    return cond == value


def _cond_label(cond: Any) -> str:
    return getattr(cond, '__qualname__', None) or repr(cond)


class IfS(Switch):
    """``ifs(cond, then_branch, else_branch)``: a two-way switch on a callable condition."""

    def __init__(self, cond: Callable, tpath: Callable, fpath: Callable):
        if not callable(cond):
            raise InputError('ifs() needs a callable condition first.')
        super().__init__(cond, tpath, DEFAULT, fpath)


switch = Switch
ifs = IfS
