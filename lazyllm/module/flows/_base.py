"""FlowBase: the common part of every flow — ordered, optionally named steps.

A flow is a module whose steps are callables (modules, functions, other flows). Steps are
given positionally, as keywords (``pipeline(a=f, b=g)``), or by assignment inside a ``with``
block, which keeps their order::

    with pipeline() as p:
        p.clean = str.strip
        p.upper = str.upper

Steps that are modules are the flow's submodules, so ``flow.start()`` starts them all.
"""
from __future__ import annotations

import contextvars
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from ..._config import config
from ...errors import InputError
from .._base import ModuleBase

__all__ = ['FlowBase', 'run_concurrently']

_RESERVED = {'input', 'output', 'case', 'name'}


class FlowBase(ModuleBase):
    """Ordered steps plus the ``with``-block builder shared by all flows."""

    def __init__(self, *steps: Callable, **named: Callable):
        super().__init__()
        object.__setattr__(self, '_building', False)
        self._modes: list[str] = []
        self._steps: list[Callable] = []
        self._step_names: dict[str, int] = {}
        for step in steps:
            self._add_step(None, step)
        for key, step in named.items():
            self._add_step(key, step)

    def _add_step(self, name: str | None, step: Callable) -> None:
        if not callable(step):
            raise InputError(f'{type(self).__name__} step {name or len(self._steps)} is a '
                             f'{type(step).__name__}, not a callable: pass a function or module.')
        if name is not None:
            if name in self._step_names or name in _RESERVED:
                raise InputError(f'step name {name!r} is already used or reserved '
                                 f'({sorted(_RESERVED)}): pick another name.')
            self._step_names[name] = len(self._steps)
        self._steps.append(step)

    # -- the with-block builder -----------------------------------------------------------
    def __enter__(self) -> 'FlowBase':
        # `with pipeline() as p:` builds; `with p.start():` (already started) manages the
        # lifecycle like any module and stops the tree on exit.
        self._modes.append('life' if self._life.started else 'build')
        object.__setattr__(self, '_building', self._modes[-1] == 'build')
        return self

    def __exit__(self, *exc: Any) -> None:
        mode = self._modes.pop()
        object.__setattr__(self, '_building', bool(self._modes) and self._modes[-1] == 'build')
        if mode == 'life':
            self.stop()

    def __setattr__(self, key: str, value: Any) -> None:
        if key.startswith('_'):
            object.__setattr__(self, key, value)
        elif self._building:
            self._add_step(key, value)
        else:
            raise InputError(f'cannot set {key!r} on a {type(self).__name__}: add named steps '
                             f'inside "with {type(self).__name__.lower()}() as f: f.{key} = ..."'
                             ' or pass them as keywords.')

    def __getattr__(self, key: str) -> Any:
        names = self.__dict__.get('_step_names', {})
        if key in names:
            return self._steps[names[key]]
        raise AttributeError(f'{type(self).__name__} has no step or attribute {key!r}')

    def __len__(self) -> int:
        return len(self._steps)

    @property
    def steps(self) -> list[Callable]:
        return list(self._steps)

    def step_label(self, index: int) -> str:
        for key, i in self._step_names.items():
            if i == index:
                return key
        return ''

    def submodules(self) -> list[ModuleBase]:
        return [s for s in self._steps if isinstance(s, ModuleBase)]

    def _repr_children(self) -> list[tuple[str, Any]]:
        return [(self.step_label(i), s) for i, s in enumerate(self._steps)]


def run_concurrently(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run thunks in threads, each in a copy of the caller's context (so bind references
    and stream listeners work inside), and return their results in order. The first error
    is raised after all finished."""
    if len(calls) <= 1:
        return [c() for c in calls]
    workers = max(1, min(len(calls), config['max_workers']))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix='lazyllm-flow') as pool:
        futures = [pool.submit(contextvars.copy_context().run, c) for c in calls]
        return [f.result() for f in futures]
