"""``switch``: run the branch of the first case that matches the input.

::

    switch({is_neg: negate, 0: zero, 'default': str})      # a dict: condition -> branch
    switch(is_neg, negate, 0, zero, 'default', str)        # or condition, branch pairs
    with switch(conversion=len) as sw:                     # or cases in a with block
        sw.case[lambda n: n > 10 : summarize]              # case[cond:branch]
        sw.case[0::empty_answer]                           # case[cond::branch], the same
        sw.case(lambda n: n < 3, short)                    # case(cond, branch)
        sw.case['default', answer]                         # case[cond, branch]

- A callable condition matches when it returns a true value for the judged value (a
  package is unpacked into its arguments); any other condition matches when it equals the
  judged value; ``'default'`` always matches and must be the last case.
- ``conversion=f`` judges ``f(value)`` instead of the value; the branch still gets the
  original input.
- ``judge_on_full_input=True`` (default): the whole input is judged and given to the branch.
  ``False``: the first positional input is judged, the rest go to the branch
  (``sw('upper', 'text')`` runs the 'upper' branch on ``'text'``).
- No case matches and no ``'default'``: the result is ``None``, as in LazyLLM.
"""
from __future__ import annotations

from typing import Any, Callable

from ...errors import InputError
from ._base import FlowBase
from ._package import call_with, pack, package
from ._trace import record_step_failure

__all__ = ['Switch', 'switch', 'DEFAULT']

DEFAULT = 'default'


class _Case:
    """``sw.case``: add a case by ``[cond:branch]``, ``[cond::branch]``, ``[cond, branch]``
    or ``(cond, branch)``."""

    def __init__(self, owner: 'Switch'):
        self._owner = owner

    def __call__(self, cond: Any, branch: Callable) -> None:
        self._owner._add_case(cond, branch)

    def __getitem__(self, key: Any) -> None:
        if isinstance(key, slice) and key.start is not None and \
                (key.stop is None) != (key.step is None):
            self._owner._add_case(key.start, key.stop if key.step is None else key.step)
        elif isinstance(key, tuple) and len(key) == 2:
            self._owner._add_case(*key)
        else:
            raise InputError(f'sw.case[{key!r}] is not a case: write sw.case[cond:branch], '
                             'sw.case[cond::branch], sw.case[cond, branch] or '
                             'sw.case(cond, branch).')


class Switch(FlowBase):
    """The branch of the first matching case runs; see the module docstring."""

    _options = ('conversion', 'judge_on_full_input')
    _keyword_steps = False          # branches need conditions: no `switch(a=f)`
    _adopts_nested_flows = False    # a flow built in the block is a branch once in a case

    def __init__(self, *cases: Any, conversion: Callable | None = None,
                 judge_on_full_input: bool = True, **options: Any):
        if conversion is not None and not callable(conversion):
            raise InputError(f'switch conversion must be a callable applied to the value '
                             f'before judging, got {type(conversion).__name__}.')
        if not isinstance(judge_on_full_input, bool):
            raise InputError(f'switch judge_on_full_input takes True or False, got '
                             f'{judge_on_full_input!r}.')
        super().__init__(**options)
        self._conds: list[Any] = []
        self._conversion = conversion
        self._judge_on_full_input = judge_on_full_input
        if len(cases) == 1 and isinstance(cases[0], dict):
            pairs = list(cases[0].items())
        elif len(cases) % 2:
            raise InputError('switch() takes a dict {condition: branch} or condition, branch '
                             f'pairs: got an odd number ({len(cases)}) of arguments; add the '
                             'missing branch.')
        else:
            pairs = list(zip(cases[0::2], cases[1::2]))
        self._constructing = True
        for cond, branch in pairs:
            self._add_case(cond, branch)
        self._constructing = False

    @property
    def case(self) -> _Case:
        return _Case(self)

    def _add_case(self, cond: Any, branch: Callable) -> None:
        if not (self._constructing or self._building):
            raise InputError('add switch cases in its constructor or inside '
                             '"with switch() as sw: sw.case[cond, branch]".')
        if any(_is_default(c) for c in self._conds):
            raise InputError("the 'default' case must be the last one in a switch.")
        self._add_step(None, branch)
        self._conds.append(cond)

    def _assign_in_block(self, key: str, value: Any) -> None:
        raise InputError(f'sw.{key} = ... adds no case: a switch branch needs a condition; '
                         f'write sw.case[cond, branch] (or sw.case(cond, branch)).')

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if self._judge_on_full_input:
            judged = subject = pack(args)
        elif len(args) >= 2:
            judged, subject = args[0], pack(args[1:])
        else:
            raise InputError('a switch with judge_on_full_input=False needs the value to judge '
                             f'and the branch input: sw(value, input); got {len(args)} '
                             'positional input(s).')
        if self._conversion is not None:
            judged = self._guarded('conversion', call_with, self._conversion, judged)
        for i, cond in enumerate(self._conds):
            if self._guarded(f'condition {i}', _matches, cond, judged):
                return self._run_step(i, *_as_call_args(subject), **kwargs)
        return None

    def _guarded(self, what: str, func: Callable, *args: Any) -> Any:
        try:
            return func(*args)
        except Exception as e:
            record_step_failure(e, self, what)
            raise

    def _repr_children(self) -> list[tuple[str, Any]]:
        return [(_cond_label(c), s) for c, s in zip(self._conds, self._steps)]


def _as_call_args(value: Any) -> tuple:
    return tuple(value) if isinstance(value, package) else (value,)


def _is_default(cond: Any) -> bool:
    return isinstance(cond, str) and cond == DEFAULT


def _matches(cond: Any, value: Any) -> bool:
    if _is_default(cond):
        return True
    if callable(cond):
        return bool(call_with(cond, value))
    if cond == value:
        return True
    return isinstance(value, package) and len(value) == 1 and value[0] == cond


def _cond_label(cond: Any) -> str:
    return getattr(cond, '__qualname__', None) or repr(cond)


switch = Switch
