"""FormatterBase and composition.

A formatter turns a model's output into what the user wants. The protocol is tiny: a
formatter is any callable ``output -> value``. FormatterBase adds LazyLLM's calling rules and
``|`` composition:

- ``format(output)``: a chat message is read as its text (see ``_message``), a str goes
  through ``_load`` (parsing), then ``_parse_py_data_by_formatter`` (selection). A subclass
  overrides ``format`` itself, or LazyLLM's two steps.
- ``formatter(a, b)``: called with several values, a formatter formats them as one
  ``lazyllm.package``, as LazyLLM's do (so a formatter can follow a flow step that returns
  several values).
- ``f | g``: apply ``f``, then ``g``; either side may be a plain function. A formatter piped
  after a pipeline is appended to it in place (see ``Pipeline.__or__``).
"""
from __future__ import annotations

from typing import Any, Callable

from .._package import call_with, pack
from ..errors import InputError
from ._message import answer_text, is_chat_message


def _name(step: Callable) -> str:
    if isinstance(step, FormatterBase):
        return repr(step)
    return getattr(step, '__qualname__', None) or repr(step)


class FormatterBase:
    """Base of the formatters. Formatters hold no per-call state, so one instance can serve
    many threads."""

    def _load(self, text: str) -> Any:
        """Parse the model's text into data (the text itself, by default)."""
        return text

    def _parse_py_data_by_formatter(self, data: Any) -> Any:
        raise NotImplementedError(f'{type(self).__name__} must override format(output), or '
                                  '_load(text) and _parse_py_data_by_formatter(data)')

    def format(self, output: Any) -> Any:
        if is_chat_message(output):
            output = answer_text(output, type(self).__name__)
        if isinstance(output, str):
            output = self._load(output)
        return self._parse_py_data_by_formatter(output)

    def __call__(self, *output: Any) -> Any:
        if not output:
            raise InputError(f'{type(self).__name__}() was called with nothing to format: '
                             'pass the output, e.g. formatter(text)')
        return self.format(pack(output))

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
    PipeFormatter of three steps; the operands are never changed.

    The first step gets the arguments the pipe was called with (so ``(lambda x, y: ...) |
    formatter`` takes two); a step that returns a package gives the next step its items as
    separate arguments, as in a flow."""

    steps: tuple[Callable, ...]

    def __init__(self, *steps: Callable):
        flat: list[Callable] = []
        for step in steps:
            if not callable(step):
                raise InputError(f'cannot compose {step!r}: every step of a formatter must be a '
                                 'callable output -> value (a formatter or a function)')
            flat += step.steps if isinstance(step, PipeFormatter) else [step]
        if not flat:
            raise InputError('PipeFormatter needs at least one step: pass formatters or '
                             'functions, e.g. PipeFormatter(JsonFormatter(), str)')
        self.steps = tuple(flat)

    def __call__(self, *output: Any) -> Any:
        if not output:
            raise InputError('a formatter pipe was called with nothing to format: pass the '
                             'output, e.g. (f | g)(text)')
        value = self.steps[0](*output)
        for step in self.steps[1:]:
            value = call_with(step, value)
        return value

    def format(self, output: Any) -> Any:
        return self(output)

    def __repr__(self) -> str:
        return ' | '.join(_name(s) for s in self.steps)


LazyLLMFormatterBase = FormatterBase   # LazyLLM's name for the same base
PipelineFormatter = PipeFormatter      # LazyLLM's name for a composed formatter


def excerpt(text: str, limit: int = 200) -> str:
    """The start of a model output, for error messages."""
    return repr(text[:limit] + ('...' if len(text) > limit else ''))
