"""LazyLLM's query-with-files text: a query and file paths travelling as one str.

A flow step passes a str along; to pass files with it, LazyLLM encodes both as
``<lazyllm-query>{"query": "...", "files": ["path", ...]}``. A str without the prefix is a
plain query with no files.
"""
from __future__ import annotations

import json
from typing import Any

from ..errors import FormatError, InputError

LAZYLLM_QUERY_PREFIX = '<lazyllm-query>'


def encode_query_with_filepaths(query: str | None = None,
                                files: str | list[str] | None = None) -> str:
    """``query`` with ``files`` in LazyLLM's encoded form; ``query`` itself when there are
    no files."""
    query = '' if query is None else query
    if not isinstance(query, str):
        raise InputError(f'the query must be a str, got {type(query).__name__}')
    if not files:
        return query
    if isinstance(files, str):
        files = [files]
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise InputError(f'files must be a path (str) or a list of paths, got {files!r:.100}')
    return LAZYLLM_QUERY_PREFIX + json.dumps({'query': query, 'files': files})


def decode_query_with_filepaths(query_files: str) -> dict | str:
    """``{'query': ..., 'files': [...]}`` for an encoded str; any other str unchanged."""
    if not isinstance(query_files, str):
        raise InputError(f'decode_query_with_filepaths takes a str, got '
                         f'{type(query_files).__name__}')
    body = query_files.lstrip()
    if not body.startswith(LAZYLLM_QUERY_PREFIX):
        return query_files
    try:
        decoded = json.loads(body[len(LAZYLLM_QUERY_PREFIX):])
    except json.JSONDecodeError as e:
        raise FormatError(f'the text after {LAZYLLM_QUERY_PREFIX} is not valid JSON ({e.msg}): '
                          f'{body[:200]!r}; build it with encode_query_with_filepaths()') from e
    if not (isinstance(decoded, dict) and isinstance(decoded.get('query'), str)
            and isinstance(decoded.get('files'), list)):
        raise FormatError(f'{body[:200]!r} is not a query with files: expected '
                          f'{LAZYLLM_QUERY_PREFIX}{{"query": str, "files": [paths]}}')
    return decoded


def lazyllm_merge_query(*args: str) -> str:
    """One query from several: the queries joined, the files of all of them together."""
    if len(args) == 1:
        return args[0]
    bad = [type(a).__name__ for a in args if not isinstance(a, str)]
    if bad:
        raise InputError(f'only str queries can be merged, got {", ".join(bad)}')
    queries, files = [], []
    for item in args:
        decoded: Any = decode_query_with_filepaths(item)
        if isinstance(decoded, dict):
            queries.append(decoded['query'])
            files.extend(decoded['files'])
        else:
            queries.append(decoded)
    return encode_query_with_filepaths(''.join(queries), files)
