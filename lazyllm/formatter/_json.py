"""JsonFormatter: find the JSON a model wrote inside free text.

Models wrap JSON in prose and code fences, so the whole output is rarely valid JSON. We scan
for ``{`` and ``[`` and let ``json.JSONDecoder.raw_decode`` read one value from there (it
knows about strings, so braces inside strings are fine); a candidate that does not parse is
skipped. When the text has ```json fences, only their contents are scanned, so bracketed
prose such as a citation ``[1]`` is not mistaken for JSON.
"""
from __future__ import annotations

import json
import re
from typing import Any

from ..errors import FormatError
from ._base import SelectingFormatter, excerpt

_DECODER = json.JSONDecoder()
_FENCE = re.compile(r'```[ \t]*json[ \t]*\n(.*?)```', re.DOTALL | re.IGNORECASE)
_START = re.compile(r'[{\[]')


def _scan(text: str) -> list[Any]:
    values, pos = [], 0
    while (m := _START.search(text, pos)) is not None:
        try:
            value, pos = _DECODER.raw_decode(text, m.start())
        except json.JSONDecodeError:
            pos = m.start() + 1
            continue
        values.append(value)
    return values


def extract_json(text: str) -> list[Any]:
    """Every top-level JSON object or array in ``text``, in order (an empty list if none)."""
    fenced = [v for block in _FENCE.findall(text) for v in _scan(block)]
    return fenced or _scan(text)


class JsonFormatter(SelectingFormatter):
    """Parse the JSON in a model's output, then optionally select from it.

    Without an expression: the one JSON value found, or a list when there are several. With
    an expression, selection starts from the list of every value found, so ``'[0]{name}'``
    is the ``name`` of the first JSON value. A dict or list input counts as one value found.
    No JSON in the text is a FormatError.

    >>> JsonFormatter('[0]{name}')('text {"name": "a"} more')
    'a'
    """

    def _load(self, text: str) -> list[Any]:
        values = extract_json(text)
        if not values:
            raise FormatError(f'no JSON object or array in the model output {excerpt(text)}: '
                              'ask the model to answer in JSON (say so in the prompt), or use '
                              'EmptyFormatter() to keep the raw text')
        return values

    def _wrap(self, data: Any) -> list[Any]:
        return [data]

    def _unwrap(self, values: list[Any]) -> Any:
        return values[0] if len(values) == 1 else values
