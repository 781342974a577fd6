"""Factory classes: ``AutoModel(...)`` and ``OnlineModule(...)`` return the module they pick.

Why: the module a user gets must be the real one. ``isinstance(lazyllm.AutoModel(path),
lazyllm.TrainableModule)`` is true, ``share()``, ``formatter()``, the lifecycle and every
attribute are the module's own, and there is no wrapper whose ``.module`` one has to unwrap.

A factory class keeps what a plain function would lose: a name that reads as a class in code
written for LazyLLM, class attributes such as ``AutoModel.explain``, and ``isinstance(m,
lazyllm.OnlineModule)`` (true for every module the factory can build, as in LazyLLM). It is
not a ``__new__`` trick: calling the class runs :meth:`build`, an ordinary classmethod that
returns an instance of another class, and no instance of the factory itself ever exists.
"""
from __future__ import annotations

from typing import Any

from ..errors import InputError

__all__ = ['Factory', 'alias']


class Factory(type):
    """Metaclass of a factory class: ``Cls(...)`` is ``Cls.build(...)``, and ``isinstance``
    / ``issubclass`` against ``Cls`` test the classes ``Cls.products()`` returns."""

    # (the type: ignore[attr-defined] below: build() and products() are defined by each
    # factory class, not by the metaclass, so the checker cannot see them on ``cls``)
    def __call__(cls, *args: Any, **kw: Any) -> Any:
        return cls.build(*args, **kw)   # type: ignore[attr-defined]

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, cls.products())   # type: ignore[attr-defined]

    def __subclasscheck__(cls, sub: Any) -> bool:
        return isinstance(sub, type) and issubclass(sub, cls.products())  # type: ignore[attr-defined]


def alias(value: Any, key: str, other: Any, other_key: str) -> Any:
    """``value`` or its other spelling ``other`` (LazyLLM's ``base_model=``, ``function=``…,
    which both factories accept); both given and different is an error."""
    if other is None:
        return value
    if value is not None and value != other:
        raise InputError(f'{key}={value!r} and {other_key}={other!r} name the same setting: '
                         f'pass one of them')
    return other
