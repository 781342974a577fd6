"""ActionModule: any callable (a function, a module, a flow, or several in a row) as a module.

Wrapping makes a plain function part of the module tree: it gets hooks, a formatter
(``ActionModule(f) | fmt``), streaming, and — when it holds modules — ``start()`` /
``stop()`` reach them, because the wrapped callable is this module's submodule. Several
callables are run in order, as a pipeline; a module class is instantiated, as flows do.
"""
from __future__ import annotations

from typing import Any, Callable, Iterator

from ..errors import InputError
from ._base import ModuleBase, _callable_name
from .flows import pipeline
from .flows._steps import as_step

__all__ = ['ActionModule']


class ActionModule(ModuleBase):
    """``ActionModule(f)(x) == f(x)``; ``ActionModule(f, g)(x) == g(f(x))``."""

    def __init__(self, *action: Callable, name: str | None = None):
        super().__init__(name=name)
        if not action:
            raise InputError('ActionModule() needs at least one callable: '
                             'ActionModule(func) or ActionModule(func1, func2, ...).')
        if len(action) == 1 and isinstance(action[0], (list, tuple)):
            action = tuple(action[0])
        steps = [as_step(a, f'ActionModule argument #{i}') for i, a in enumerate(action)]
        self._action = steps[0] if len(steps) == 1 else pipeline(*steps)

    @property
    def action(self) -> Callable:
        return self._action

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self._action(*args, **kwargs)

    def stream_forward(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        if isinstance(self._action, ModuleBase):
            yield from self._action.stream(*args, **kwargs)
        else:
            yield self._action(*args, **kwargs)

    def submodules(self) -> list[ModuleBase]:
        return [self._action] if isinstance(self._action, ModuleBase) else []

    def _repr_head(self) -> str:
        return f'ActionModule({_callable_name(self._action)})' if not isinstance(
            self._action, ModuleBase) else 'ActionModule'

    def _repr_children(self) -> list[tuple[str, Any]]:
        return [('', self._action)] if isinstance(self._action, ModuleBase) else []

