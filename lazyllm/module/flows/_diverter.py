"""``diverter``: a parallel whose branches each get their own input.

::

    diverter(f, g, h)(1, 2, 3)      == package(f(1), g(2), h(3))
    diverter(f, g)([1, 2])          == package(f(1), g(2))      # a single list/tuple is split
    d = diverter(a=f, b=g).asdict
    d(1, 2)                         == {'a': f(1), 'b': g(2)}
    d(dict(b=2, a=1))               == {'a': f(1), 'b': g(2)}    # a dict is routed by name

Inputs are matched to branches in order: there must be exactly one per branch (or one per
selected branch with ``_kept_items`` / ``_skip_items``, which also accept one per branch and
drop the others'). An input that is a ``package`` is unpacked into its branch's arguments;
keyword arguments go to every branch. Everything else (shapes, ``.sequential``, barriers,
concurrency) is ``parallel``'s.
"""
from __future__ import annotations

from ...errors import InputError
from ._package import as_args
from ._parallel import Parallel

__all__ = ['Diverter', 'diverter']


class Diverter(Parallel):
    """One input per branch; see the module docstring."""

    def _branch_inputs(self, args: tuple, kwargs: dict, chosen: list[int]) -> list:
        if len(args) == 1 and isinstance(args[0], dict):
            values = self._route_by_name(args[0], chosen)
        else:
            values = self._split(args, chosen)
        return [(as_args(v), kwargs) for v in values]

    def _split(self, args: tuple, chosen: list[int]) -> list:
        values = list(args[0]) if len(args) == 1 and isinstance(args[0], (list, tuple)) \
            else list(args)
        if len(values) == len(chosen):
            return values
        if len(values) == len(self._steps):
            return [values[i] for i in chosen]
        counts = f'{len(chosen)}' if len(chosen) == len(self._steps) else \
            f'{len(chosen)} (the selected branches) or {len(self._steps)} (all branches)'
        raise InputError(f'this diverter has {len(self._steps)} branch(es) and got '
                         f'{len(values)} input(s): pass {counts} inputs, one per branch in order.')

    def _route_by_name(self, given: dict, chosen: list[int]) -> list:
        names = [self.step_label(i) for i in chosen]
        if not all(names):
            raise InputError('a dict input is routed to branches by name, but this diverter '
                             'has unnamed branches: name them (diverter(a=f, b=g)) or pass the '
                             'inputs positionally.')
        unknown = sorted(set(given) - set(self._step_names))
        missing = [n for n in names if n not in given]
        if unknown or missing:
            raise InputError(f'the dict input does not match the branches {names}: '
                             + (f'no branch is named {unknown}; ' if unknown else '')
                             + (f'no input for {missing}; ' if missing else '')
                             + 'give exactly one key per branch name.')
        return [given[n] for n in names]


diverter = Diverter
