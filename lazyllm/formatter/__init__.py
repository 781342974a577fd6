"""Formatters: turn a model's output into what the user wants, with LazyLLM's meanings.

A formatter is any callable output -> value; FormatterBase adds LazyLLM's calling rules
(chat messages, several arguments as a package) and ``|`` composition. Pure: no I/O.
See docs/formatter.md.
"""
from ._base import FormatterBase, LazyLLMFormatterBase, PipeFormatter, PipelineFormatter
from ._empty import EmptyFormatter
from ._extract import extract_json
from ._file import FileFormatter
from ._function_call import FunctionCallFormatter
from ._json import JsonFormatter
from ._jsonlike import JsonLikeFormatter, PythonFormatter
from ._query_files import (
    LAZYLLM_QUERY_PREFIX,
    decode_query_with_filepaths,
    encode_query_with_filepaths,
    lazyllm_merge_query,
)
from ._yaml import YamlFormatter

# LazyLLM's short names (its registry drops the "Formatter" suffix): formatter.JsonLike, ...
Empty, File, FunctionCall, Json, JsonLike, Python, Yaml = (
    EmptyFormatter, FileFormatter, FunctionCallFormatter, JsonFormatter, JsonLikeFormatter,
    PythonFormatter, YamlFormatter)

__all__ = ['FormatterBase', 'LazyLLMFormatterBase', 'PipeFormatter', 'PipelineFormatter',
           'EmptyFormatter', 'JsonLikeFormatter', 'PythonFormatter', 'JsonFormatter',
           'YamlFormatter', 'FunctionCallFormatter', 'FileFormatter', 'extract_json',
           'encode_query_with_filepaths', 'decode_query_with_filepaths', 'lazyllm_merge_query',
           'LAZYLLM_QUERY_PREFIX', 'Empty', 'File', 'FunctionCall', 'Json', 'JsonLike',
           'Python', 'Yaml']
