"""``package``: several positional values travelling between flow steps as one.

A step that returns a ``package`` makes the next step get its items as separate positional
arguments; any other value (a plain tuple or list included) is passed as one argument.
"""
from __future__ import annotations

from typing import Any, Callable

__all__ = ['package', 'call_with']


class package(tuple):  # noqa: N801 - lower case like LazyLLM's, it reads as a value
    """A tuple that flows unpack into positional arguments."""

    def __new__(cls, *items: Any) -> 'package':
        if len(items) == 1 and isinstance(items[0], (list, tuple)) and \
                not isinstance(items[0], package):
            items = tuple(items[0])
        elif len(items) == 1 and isinstance(items[0], package):
            items = tuple(items[0])
        return super().__new__(cls, items)

    def __repr__(self) -> str:
        return 'package' + super().__repr__()


def as_args(value: Any) -> tuple:
    """The positional arguments a step receives for ``value``."""
    return tuple(value) if isinstance(value, package) else (value,)


def call_with(step: Callable, value: Any, kwargs: dict | None = None) -> Any:
    """Call ``step`` with ``value`` unpacked when it is a package."""
    return step(*as_args(value), **(kwargs or {}))


def pack(args: tuple) -> Any:
    """The single value that stands for a call's positional arguments."""
    return args[0] if len(args) == 1 else package(args)
