"""JsonFormatter: the JSON in a model's output, then a selection from it (LazyLLM's)."""
from __future__ import annotations

from typing import Any

from .._names import article
from ..errors import FormatError
from ._base import excerpt
from ._extract import extract_json
from ._jsonlike import JsonLikeFormatter
from ._message import without_reasoning

_JSON_DATA = (dict, list, tuple, str, int, float, bool, type(None))


class JsonFormatter(JsonLikeFormatter):
    """Parse the JSON in a model's output, then apply the selection ``formatter``.

    The text may wrap the JSON in prose, code fences or reasoning (``<think>...</think>`` is
    skipped), and almost-JSON is repaired (see ``_extract``). One JSON value found is the
    data; several are a list of them. Selection starts from that data, so
    ``JsonFormatter('[name]')('text {"name": "a"} more')`` is ``'a'``. Output that is already
    data (a dict, list, tuple or package, a number) is selected from as it is. No JSON in the
    text is a FormatError.
    """

    def format(self, output: Any) -> Any:
        if isinstance(output, (bytes, bytearray)):
            output = output.decode('utf-8', errors='replace')
        return super().format(output)

    def _load(self, text: str) -> Any:
        values = extract_json(without_reasoning(text))
        if not values:
            raise FormatError(f'no JSON object or array in the model output {excerpt(text)}: '
                              'ask the model to answer in JSON (say so in the prompt), or use '
                              'EmptyFormatter() to keep the raw text')
        return values[0] if len(values) == 1 else values

    def _parse_py_data_by_formatter(self, data: Any) -> Any:
        if not isinstance(data, _JSON_DATA):
            kind = type(data).__name__
            raise FormatError(f'JsonFormatter got {article(kind)} {kind}: it reads the '
                              "model's text output (a str), a chat message, or data that is "
                              'already parsed (dict, list, tuple, number)')
        return super()._parse_py_data_by_formatter(data)
