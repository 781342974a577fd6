"""Telling a flow's options from its named steps.

Keywords of a flow constructor are either options (``loop(count=2)``) or named steps
(``pipeline(clean=f)``). Options are a fixed set per flow class, declared in its
``_options`` and taken by its ``__init__``; whatever keywords reach ``FlowBase`` are step
names. A keyword is refused (InputError naming the valid options) when it:

- is an option of another flow class (``pipeline(count=3)``, ``loop(conversion=f)``),
- is a LazyLLM flow option this package does not have (``auto_capture=``, ``id=``),
- is not callable, so it cannot be a step (``loop(on_limit='raise')``),
- names a step of a flow that takes no named steps (``switch(a=f)``),
- or comes with positional steps (``loop(body, count=2, on_limit=handler)``): LazyLLM refuses
  that mix too, and such a keyword is far more likely a wrong option than a step.
"""
from __future__ import annotations

from typing import Any

from ...errors import InputError

__all__ = ['COMMON_OPTIONS', 'register_options', 'check_step_keywords']

COMMON_OPTIONS = ('name', 'post_action')

_UNSUPPORTED = {
    'auto_capture': 'assign each step in the with block (f.step = ...) instead',
    'id': 'name the flow with name= instead',
    'group_id': 'name the flow with name= instead',
}

_owners: dict[str, list[str]] = {}    # option -> flow kinds that take it


def register_options(kind: str, options: tuple[str, ...]) -> None:
    for option in options:
        owners = _owners.setdefault(option, [])
        if kind not in owners:
            owners.append(kind)


def valid_options(flow_cls: type) -> str:
    return ', '.join(tuple(getattr(flow_cls, '_options', ())) + COMMON_OPTIONS)


def check_step_keywords(flow_cls: type, named: dict[str, Any], positional: int) -> None:
    kind = flow_cls.__name__.lower()
    takes_steps = getattr(flow_cls, '_keyword_steps', True)
    for key, value in named.items():
        where = f'{kind}({key}=...)'
        if key in _UNSUPPORTED:
            raise InputError(f'{where}: {key!r} is a LazyLLM flow option this package does not '
                             f'have: {_UNSUPPORTED[key]}. {kind} options: '
                             f'{valid_options(flow_cls)}.')
        if key in _owners:
            raise InputError(f'{where}: {key!r} is an option of '
                             f'{" / ".join(_owners[key])}, not of {kind}. {kind} options: '
                             f'{valid_options(flow_cls)}.')
        if not takes_steps:
            raise InputError(f'{where}: {kind} takes no named steps, and {key!r} is not one '
                             f'of its options: {valid_options(flow_cls)}.')
        if not callable(value):
            raise InputError(f'{where}: {key!r} is not an option of {kind} ('
                             f'{valid_options(flow_cls)}), and a {type(value).__name__} '
                             'cannot be a named step: pass a callable to name a step, or '
                             'fix the option name.')
        if positional:
            raise InputError(f'{where}: {key!r} is not an option of {kind} ('
                             f'{valid_options(flow_cls)}); as a named step it cannot be mixed '
                             'with positional steps: give every step as a keyword, or assign '
                             'them in a with block.')
