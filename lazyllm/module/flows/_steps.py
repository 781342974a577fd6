"""What a flow accepts as a step, and how it keeps steps apart.

- A class whose instances are callable (a module class, or any class defining
  ``__call__``) is instantiated with no arguments, as LazyLLM does: ``pipeline(MyModule)``.
  Other classes (``str``, ``int``, a dataclass) are steps as they are: calling them builds
  a value.
- The same object given twice becomes two distinct steps: the second is wrapped in a thin
  ``StepAlias``, so ``p.output(p.f2)`` or ``bind(z=p.f2)`` can tell ``f2`` from ``f1`` even
  when both are the same function.
"""
from __future__ import annotations

from typing import Any, Callable

from ...errors import InputError

__all__ = ['StepAlias', 'as_step', 'unwrap', 'instances_are_callable']


class StepAlias:
    """Another occurrence of a step object already in the flow; calls go to the object."""
    __slots__ = ('target',)

    def __init__(self, target: Callable):
        self.target = target

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.target(*args, **kwargs)

    def __getattr__(self, key: str) -> Any:
        if key.startswith('__'):
            raise AttributeError(key)
        return getattr(self.target, key)

    def __repr__(self) -> str:
        return repr(self.target)


def unwrap(step: Any) -> Any:
    """The object behind a step (itself unless it is a ``StepAlias``)."""
    return step.target if isinstance(step, StepAlias) else step


def instances_are_callable(cls: type) -> bool:
    return any('__call__' in vars(k) for k in cls.__mro__ if k is not object)


def as_step(value: Any, where: str) -> Callable:
    """``value`` as a step: classes with callable instances instantiated, non-callables
    refused with an InputError naming ``where`` the value was given."""
    if isinstance(value, type) and instances_are_callable(value):
        try:
            return value()
        except Exception as e:
            raise InputError(f'{where}: the class {value.__name__} is instantiated with no '
                             f'arguments, which failed ({type(e).__name__}: {e}); pass an '
                             f'instance instead: {value.__name__}(...).') from e
    if not callable(value):
        raise InputError(f'{where} is a {type(value).__name__}, not a callable: pass a '
                         'function, a module, a module class or a flow.')
    return value
