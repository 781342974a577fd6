"""JsonLikeFormatter: select from data that is already Python (dicts, lists, tuples).

The selection language is LazyLLM's (see ``_slicing``). JsonFormatter and YamlFormatter are
JsonLikeFormatters that first parse the model's text; JsonLikeFormatter itself parses nothing:
a str is data like any other (``'[0:5]'`` slices it).
"""
from __future__ import annotations

from typing import Any

from ..errors import InputError
from ._base import FormatterBase
from ._slicing import Selection


class JsonLikeFormatter(FormatterBase):
    """Apply the selection ``formatter`` (an expression such as ``'[0][name]'``; None or
    ``''`` keeps everything) to the output.

    >>> JsonLikeFormatter('[:][name]')([{'name': 'a'}, {'name': 'b'}])
    ['a', 'b']
    """

    def __init__(self, formatter: str | None = None):
        if formatter is not None and not isinstance(formatter, str):
            raise InputError(f'{type(self).__name__} takes a selection expression (a str such '
                             f"as '[0][name]') or None, got {type(formatter).__name__}")
        self._expr = formatter
        self._selection = Selection(formatter) if formatter else None

    def _parse_py_data_by_formatter(self, data: Any) -> Any:
        return self._selection(data) if self._selection else data

    def _args(self) -> str:
        return '' if self._expr is None else repr(self._expr)


class PythonFormatter(JsonLikeFormatter):
    """LazyLLM's other name for JsonLikeFormatter (the same behaviour)."""
