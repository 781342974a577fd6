"""FormatterBase and composition.

The protocol is tiny: a formatter is any callable that takes the model's output (a str, or
an already-parsed object) and returns what the user wants. FormatterBase adds only two
things: ``f | g`` (apply ``f`` then ``g``) and a readable repr. A plain function works
wherever a formatter does, and on either side of ``|``.
"""
from __future__ import annotations

from typing import Any, Callable

from ..errors import FormatError, InputError


def _name(step: Callable) -> str:
    if isinstance(step, FormatterBase):
        return repr(step)
    return getattr(step, '__qualname__', None) or repr(step)


class FormatterBase:
    """Base of the built-in formatters: subclasses implement ``format(output)``.

    Formatters hold no per-call state, so one instance can serve many threads.
    """

    def format(self, output: Any) -> Any:
        raise NotImplementedError

    def __call__(self, output: Any) -> Any:
        return self.format(output)

    def __or__(self, other: Callable) -> PipeFormatter:
        if not callable(other):
            return NotImplemented
        return PipeFormatter(self, other)

    def __ror__(self, other: Callable) -> PipeFormatter:
        if not callable(other):
            return NotImplemented
        return PipeFormatter(other, self)

    def _args(self) -> str:
        """The constructor arguments shown by repr."""
        return ''

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self._args()})'


class PipeFormatter(FormatterBase):
    """Apply ``steps`` in order, each on the previous result. ``f | g | h`` builds one flat
    PipeFormatter of three steps; the operands are never changed."""

    def __init__(self, *steps: Callable):
        flat: list[Callable] = []
        for step in steps:
            if not callable(step):
                raise InputError(f'cannot compose {step!r}: every step of a formatter must be a '
                                 'callable output -> value (a formatter or a function)')
            flat += step.steps if isinstance(step, PipeFormatter) else [step]
        self.steps = tuple(flat)

    def format(self, output: Any) -> Any:
        for step in self.steps:
            output = step(output)
        return output

    def __repr__(self) -> str:
        return ' | '.join(_name(s) for s in self.steps)


class SelectingFormatter(FormatterBase):
    """A formatter that parses text into data, then applies an optional selection
    expression (see ``_slicing``). Subclasses implement ``_load(text)``; input that is
    already a dict or list skips parsing."""

    def __init__(self, expr: str | None = None):
        from ._slicing import Selection
        self._expr = expr
        self._selection = Selection(expr) if expr else None

    def format(self, output: Any) -> Any:
        if isinstance(output, (dict, list)):
            data = self._wrap(output)
        else:
            if isinstance(output, (bytes, bytearray)):
                output = output.decode('utf-8', errors='replace')
            if not isinstance(output, str):
                raise FormatError(f'{type(self).__name__} got a {type(output).__name__}: it '
                                  'parses the model\'s text output (a str), or a dict/list')
            data = self._load(output)
        return self._selection(data) if self._selection else self._unwrap(data)

    def _load(self, text: str) -> Any:
        raise NotImplementedError

    def _wrap(self, data: Any) -> Any:
        """How already-parsed input enters the selection (as is, by default)."""
        return data

    def _unwrap(self, data: Any) -> Any:
        """The result when there is no expression (the data, by default)."""
        return data

    def _args(self) -> str:
        return '' if self._expr is None else repr(self._expr)


def excerpt(text: str, limit: int = 200) -> str:
    """The start of a model output, for error messages."""
    return repr(text[:limit] + ('...' if len(text) > limit else ''))


LazyLLMFormatterBase = FormatterBase   # LazyLLM's name for the same base
