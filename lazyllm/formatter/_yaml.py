"""YamlFormatter: parse a YAML document from a model's output.

PyYAML is imported at the first call, not at import, to keep ``import lazyllm`` cheap.
"""
from __future__ import annotations

import re
from typing import Any

from ..errors import FormatError
from ._base import SelectingFormatter, excerpt

_FENCE = re.compile(r'```[ \t]*(?:yaml|yml)?[ \t]*\n(.*?)```', re.DOTALL | re.IGNORECASE)


class YamlFormatter(SelectingFormatter):
    """Parse YAML, then optionally select from it (same language as JsonFormatter).

    The document is the first ```yaml (or bare ```) fenced block when there is one, else the
    whole text; it is read with ``yaml.safe_load`` and the parsed root is where selection
    starts. Note that YAML reads most plain prose as one string.
    """

    def _load(self, text: str) -> Any:
        import yaml
        fence = _FENCE.search(text)
        try:
            return yaml.safe_load(fence.group(1) if fence else text)
        except yaml.YAMLError as e:
            problem = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise FormatError(f'the model output is not valid YAML ({problem}): '
                              f'{excerpt(text)}; ask the model for YAML in a ```yaml block, '
                              'or use EmptyFormatter() to keep the raw text') from e
