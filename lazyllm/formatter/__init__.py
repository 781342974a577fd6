"""Formatters: turn a model's output into what the user wants.

A formatter is any callable output -> value; FormatterBase adds ``|`` composition and a
readable repr. Pure: no I/O. See docs/formatter.md.
"""
from ._base import FormatterBase, LazyLLMFormatterBase, PipeFormatter
from ._empty import EmptyFormatter
from ._json import JsonFormatter, extract_json
from ._yaml import YamlFormatter

__all__ = ['FormatterBase', 'LazyLLMFormatterBase', 'PipeFormatter', 'EmptyFormatter',
           'JsonFormatter', 'YamlFormatter', 'extract_json']
