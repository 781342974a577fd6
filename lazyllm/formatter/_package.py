"""Packages as formatters see them.

Formatters read and build packages as LazyLLM's do: a formatter called with several
arguments sees them as one package, ``'*[...]'`` selections return one, and FileFormatter
maps over one. The class itself lives in ``lazyllm/_package.py``, below both formatters
and flows.
"""
from __future__ import annotations

from typing import Any, Iterable

from .._package import package


def is_package(value: Any) -> bool:
    return isinstance(value, package)


def make_package(items: Iterable[Any]) -> package:
    return package(list(items))


def pack(args: tuple) -> Any:
    """The one value a formatter formats for the arguments it was called with: the
    argument itself, or a package of several (LazyLLM's rule)."""
    return args[0] if len(args) == 1 else make_package(args)


def call_unpacked(step: Any, value: Any) -> Any:
    """Call ``step`` with ``value``, a package unpacked into positional arguments (the
    rule flow steps follow)."""
    return step(*value) if is_package(value) else step(value)
