"""FileFormatter: decode, encode or merge LazyLLM's query-with-files text."""
from __future__ import annotations

from typing import Any

from .._package import package
from ..errors import FormatError, InputError
from ._base import FormatterBase
from ._query_files import (
    decode_query_with_filepaths,
    encode_query_with_filepaths,
    lazyllm_merge_query,
)

_MODES = ('decode', 'encode', 'merge')


class FileFormatter(FormatterBase):
    """``FileFormatter('decode')`` (the default) turns an encoded query into
    ``{'query': ..., 'files': [...]}``; ``'encode'`` does the reverse; ``'merge'``, called
    with several queries, joins them into one (queries concatenated, files collected).

    Anything else passes through unchanged (a plain str, a list...); a package is handled
    item by item (merge takes the package as the queries to merge).
    """

    def __init__(self, formatter: str = 'decode'):
        if not isinstance(formatter, str) or formatter.strip().lower() not in _MODES:
            raise InputError(f'FileFormatter mode {formatter!r} is not one of {_MODES}: use '
                             "FileFormatter('decode'), ('encode') or ('merge')")
        self._mode = formatter.strip().lower()

    def _parse_py_data_by_formatter(self, data: Any) -> Any:
        if self._mode == 'merge':
            if isinstance(data, str):
                return data
            if not isinstance(data, package):
                raise FormatError(f"FileFormatter('merge') got a {type(data).__name__}: call "
                                  'it with the queries to merge, e.g. formatter(a, b)')
            bad = [type(q).__name__ for q in data if not isinstance(q, str)]
            if bad:
                raise FormatError(f"FileFormatter('merge') merges str queries, got "
                                  f'{", ".join(bad)}')
            return lazyllm_merge_query(*data)
        if isinstance(data, package):
            return package(self._parse_py_data_by_formatter(item) for item in data)
        if self._mode == 'decode':
            return decode_query_with_filepaths(data) if isinstance(data, str) else data
        return self._encode(data)

    @staticmethod
    def _encode(data: Any) -> Any:
        if not (isinstance(data, dict) and 'query' in data and 'files' in data):
            return data
        extra = sorted(set(data) - {'query', 'files'})
        if extra:
            raise FormatError(f'cannot encode {extra} with a query: a query with files has '
                              "only 'query' and 'files'")
        return encode_query_with_filepaths(data['query'], data['files'])

    def _args(self) -> str:
        return repr(self._mode)
