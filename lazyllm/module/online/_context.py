"""Context lengths of suppliers' models, for ``max_context_length`` (tokens, prompt + answer).

Data, not code: exact names or prefixes from the suppliers' model pages (they change; add a
row, or set ``m.max_context_length = N`` on a module). A name that says its length
(``moonshot-v1-32k``, ``doubao-1-5-pro-32k``) is read from the name when no row matches.
"""
from __future__ import annotations

import re

__all__ = ['CONTEXT_LENGTHS', 'context_length']

CONTEXT_LENGTHS: dict[str, int] = {
    'gpt-4o': 128_000, 'gpt-4.1': 1_047_576, 'o3': 200_000, 'o4-mini': 200_000,
    'qwen-plus': 131_072, 'qwen-max': 32_768, 'qwen-turbo': 1_000_000,
    'glm-4-flash': 128_000, 'glm-4-plus': 128_000,
    'deepseek-chat': 65_536, 'deepseek-reasoner': 65_536,
    'claude-sonnet-4': 200_000, 'claude-opus-4': 200_000, 'claude-3-5': 200_000,
    'MiniMax-M1': 1_000_000, 'MiniMax-Text-01': 1_000_000,
    'Qwen/Qwen2.5-7B-Instruct': 32_768,
}
_IN_NAME = re.compile(r'-(\d+)k(?:-|$)', re.IGNORECASE)


def context_length(model: str | None) -> int | None:
    """The context length of ``model``: the longest matching row, else a ``-32k`` in its
    name, else None."""
    if not model:
        return None
    matches = [k for k in CONTEXT_LENGTHS if model == k or model.startswith(k)]
    if matches:
        return CONTEXT_LENGTHS[max(matches, key=len)]
    found = _IN_NAME.search(model)
    return int(found.group(1)) * 1024 if found else None
