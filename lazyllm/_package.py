"""``package``: several positional values travelling as one tuple.

A step that returns a ``package`` makes the next step get its items as separate positional
arguments; any other value (a plain tuple or list included) is passed as one argument.
Slicing a package or adding to it gives a package again, so ``out[1:]`` still spreads.

It lives at the bottom of the package because both flows (module/) and formatters
(formatter/, a layer below) build and read packages.
"""
from __future__ import annotations

import types
from typing import Any, Callable

__all__ = ['package', 'as_args', 'call_with', 'pack']


class package(tuple):  # noqa: N801 - lower case like LazyLLM's, it reads as a value
    """A tuple that flows unpack into positional arguments.

    ``package(a, b)`` holds ``a, b``; ``package([a, b])`` (one list, tuple or generator)
    holds its items."""

    def __new__(cls, *items: Any) -> 'package':
        if len(items) == 1 and isinstance(items[0], (list, tuple, types.GeneratorType)):
            items = tuple(items[0])
        return super().__new__(cls, items)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, slice):
            return package(tuple.__getitem__(self, key))
        return tuple.__getitem__(self, key)

    def __add__(self, other: Any) -> 'package':
        return package(tuple.__add__(self, tuple(other)))

    def __repr__(self) -> str:
        return 'package' + super().__repr__()


def as_args(value: Any) -> tuple:
    """The positional arguments a step receives for ``value``."""
    return tuple(value) if isinstance(value, package) else (value,)


def call_with(step: Callable, value: Any, kwargs: dict | None = None) -> Any:
    """Call ``step`` with ``value`` unpacked when it is a package."""
    return step(*as_args(value), **(kwargs or {}))


def pack(args: tuple) -> Any:
    """The single value that stands for a call's positional arguments (LazyLLM's rule)."""
    return args[0] if len(args) == 1 else package(args)
