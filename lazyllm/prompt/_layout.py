"""Pieces of LazyLLM's text layout: model tokens, past turns and tools written as one string.

A raw-completion model (or a finetuning sample) needs the conversation as one string, with
the tokens its family was trained on around each turn: ``sos``/``eos`` around the system
text, ``soh``/``eoh`` around a human turn, ``soa``/``eoa`` around an assistant turn and
``soe``/``eoe`` around a tool result. They are empty by default; ``_set_model_configs`` sets
them, as in LazyLLM.
"""
from __future__ import annotations

import json
from typing import Any, Mapping

from ..errors import InputError, PromptError
from ._messages import content_text

TOKENS = ('sos', 'eos', 'soh', 'eoh', 'soa', 'eoa', 'soe', 'eoe')
CONFIG_KEYS = ('system',) + TOKENS
EXTRA_PREFIX = 'Here are some extra messages you can referred to:\n\n'   # LazyLLM's wording


def check_configs(owner: str, configs: Mapping[str, Any]) -> dict[str, str]:
    """The model configs of ``_set_model_configs``: known names, str values."""
    unknown = [k for k in configs if k not in CONFIG_KEYS]
    if unknown:
        raise InputError(f'{owner}._set_model_configs got unknown config(s) {unknown}: '
                         f'use {", ".join(CONFIG_KEYS)}')
    bad = [k for k, v in configs.items() if v is not None and not isinstance(v, str)]
    if bad:
        raise InputError(f'{owner}._set_model_configs: {bad} must be str (or None to keep '
                         'the current value)')
    return {k: v for k, v in configs.items() if v is not None}


def extra_text(extra_keys: tuple[str, ...], values: Mapping[str, str]) -> str:
    """The extra-key block appended to the instruction: LazyLLM's heading, then
    ``### key:\\nvalue`` for each key, each followed by a blank line."""
    if not extra_keys:
        return ''
    return EXTRA_PREFIX + ''.join(f'### {k}:\n{values[k]}\n\n' for k in extra_keys)


def tools_text(tools: list[dict]) -> str:
    """Tools as LazyLLM writes them into a text prompt (a heading and their JSON)."""
    if not tools:
        return ''
    return '### Function-call Tools. \n\n' + json.dumps(tools, ensure_ascii=False) + '\n\n'


def history_text(messages: list[dict], tokens: Mapping[str, str]) -> str:
    """Past turns as one string: each turn's text between its role's tokens, no separator
    (the tokens are the separators). An assistant turn's tool calls follow its text, one JSON
    function object per line. A system message has no place between turns in this layout,
    so it is an error instead of being dropped."""
    out = []
    for i, msg in enumerate(messages):
        role = msg['role']
        if role == 'user':
            out.append(tokens['soh'] + content_text(msg) + tokens['eoh'])
        elif role == 'assistant':
            calls = ''.join('\n' + json.dumps(c.get('function', c), ensure_ascii=False) + '\n'
                            for c in msg.get('tool_calls') or [])
            out.append(tokens['soa'] + content_text(msg) + calls + tokens['eoa'])
        elif role == 'tool':
            out.append(tokens['soe'] + content_text(msg) + tokens['eoe'])
        else:
            raise PromptError(f'history message {i} is a system message, which the text layout '
                              'cannot place between turns: put it in the instruction (or '
                              "system=), or use format='openai'")
    return ''.join(out)
