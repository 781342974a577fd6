"""Flow-side helpers for ``package`` (defined in ``lazyllm/_package.py``): how a value
becomes a step's positional arguments, and how a call's arguments become one value."""
from __future__ import annotations

from typing import Any, Callable

from ..._package import package

__all__ = ['package', 'call_with', 'as_args', 'pack']


def as_args(value: Any) -> tuple:
    """The positional arguments a step receives for ``value``."""
    return tuple(value) if isinstance(value, package) else (value,)


def call_with(step: Callable, value: Any, kwargs: dict | None = None) -> Any:
    """Call ``step`` with ``value`` unpacked when it is a package."""
    return step(*as_args(value), **(kwargs or {}))


def pack(args: tuple) -> Any:
    """The single value that stands for a call's positional arguments."""
    return args[0] if len(args) == 1 else package(args)
