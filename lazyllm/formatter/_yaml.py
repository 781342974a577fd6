"""YamlFormatter: parse YAML output (optionally in a ```yaml fence), then select from it."""
from __future__ import annotations

import re
from typing import Any

from ..errors import FormatError
from ._base import excerpt
from ._jsonlike import JsonLikeFormatter
from ._message import without_reasoning

_FENCE = re.compile(r'```[ \t]*(?:ya?ml)?[ \t]*\n(.*?)```', re.DOTALL | re.IGNORECASE)


class YamlFormatter(JsonLikeFormatter):
    """Parse a model's YAML output, then apply the selection ``formatter``.

    The first fenced block (```yaml, ```yml or a bare ```) is read if there is one, else the
    whole text (reasoning in ``<think>...</think>`` skipped); it is read with
    ``yaml.safe_load`` and the parsed root is where selection starts. Note that YAML reads
    most plain prose as one string. PyYAML is imported at the first call.
    """

    def _load(self, text: str) -> Any:
        import yaml
        text = without_reasoning(text)
        fence = _FENCE.search(text)
        try:
            return yaml.safe_load(fence.group(1) if fence else text)
        except yaml.YAMLError as e:
            problem = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise FormatError(f'the model output is not valid YAML ({problem}): '
                              f'{excerpt(text)}; ask the model for YAML in a ```yaml block, '
                              'or use EmptyFormatter() to keep the raw text') from e
