"""Prompt templates with ``{identifier}`` placeholders.

Why not ``str.format``: prompts often carry JSON examples (``{"a": 1}``) that ``str.format``
would reject or mangle. Here only ``{identifier}`` is a placeholder; every other brace is
literal text. ``{{`` and ``}}`` escape literal braces as in ``str.format``, but a ``}}`` that
closes no ``{{`` is kept as is, so raw nested JSON such as ``{"a": {"b": 1}}`` survives.
A template is parsed once, at construction, into literal and placeholder parts.
"""
from __future__ import annotations

import json
import re
from typing import Any, Mapping

_TOKEN = re.compile(r'\{\{|\}\}|\{([^\W\d]\w*)\}')


def to_text(value: Any) -> str:
    """Render a placeholder or extra-key value: dicts and lists as JSON (readable by a model,
    unlike a Python repr), anything else with ``str``."""
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


class Template:
    """A parsed template. ``where`` names it in error messages ("the instruction")."""

    __slots__ = ('text', 'where', '_parts', 'names')

    def __init__(self, text: str, where: str):
        self.text = text
        self.where = where
        parts: list[tuple[bool, str]] = []   # (is_placeholder, literal text or name)
        pos, open_escapes = 0, 0
        for m in _TOKEN.finditer(text):
            token = m.group(0)
            if token == '}}' and not open_escapes:
                continue                     # raw JSON closing two objects: leave it alone
            parts.append((False, text[pos:m.start()]))
            if m.group(1):
                parts.append((True, m.group(1)))
            elif token == '{{':
                open_escapes += 1
                parts.append((False, '{'))
            else:
                open_escapes -= 1
                parts.append((False, '}'))
            pos = m.end()
        parts.append((False, text[pos:]))
        self._parts = tuple(p for p in parts if p[0] or p[1])
        self.names = tuple(dict.fromkeys(name for is_ph, name in self._parts if is_ph))

    def fill(self, values: Mapping[str, Any]) -> str:
        """Substitute every placeholder; the caller has checked that all names have values."""
        return ''.join(to_text(values[s]) if is_ph else s for is_ph, s in self._parts)

    def __repr__(self) -> str:
        return f'Template({self.text!r})'
