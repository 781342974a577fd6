"""OpenAI chat messages: validating history and tools, and rendering messages as plain text.

History is checked item by item so that a bad item is reported by its index; a request that
reaches an endpoint with a malformed message fails far from the code that built it.
"""
from __future__ import annotations

import copy
from typing import Any, Mapping, Sequence

from ..errors import PromptError

ROLES = ('system', 'user', 'assistant', 'tool')
_HISTORY_HELP = ("expected a [user, assistant] pair of strings or an OpenAI message dict "
                 "{'role': 'system'|'user'|'assistant'|'tool', 'content': str or list of parts}")


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + '...'


def check_content(content: Any, where: str) -> Any:
    """A message content is a str or a list of parts such as
    ``{'type': 'text', 'text': ...}`` / ``{'type': 'image_url', ...}``."""
    if isinstance(content, str):
        return content
    if isinstance(content, (list, tuple)) and all(
            isinstance(p, Mapping) and isinstance(p.get('type'), str) for p in content):
        return [dict(p) for p in content]
    raise PromptError(f'{where} has content {_short(content)}: use a str or a list of parts '
                      "like {'type': 'text', 'text': '...'}")


def _message(item: Mapping, where: str) -> dict:
    role = item.get('role')
    if role not in ROLES:
        raise PromptError(f'{where} has role {role!r}: use one of {", ".join(ROLES)}')
    msg = copy.deepcopy(dict(item))
    if msg.get('content') is None and role == 'assistant' and msg.get('tool_calls'):
        msg['content'] = None                       # an assistant turn that only calls tools
    elif 'content' not in msg:
        raise PromptError(f"{where} has no 'content': add a 'content' key (str or list of parts)")
    else:
        msg['content'] = check_content(msg['content'], where)
    return msg


def normalize_history(history: Any, source: str) -> list[dict]:
    """Turn ``[[user, assistant], ...]`` pairs and/or message dicts into a new list of message
    dicts. ``source`` says which history it is ("the history passed to generate_prompt")."""
    if history is None:
        return []
    if isinstance(history, (str, Mapping)) or not isinstance(history, Sequence):
        raise PromptError(f'{source} is a {type(history).__name__}: {_HISTORY_HELP}, in a list')
    messages: list[dict] = []
    for i, item in enumerate(history):
        where = f'item {i} of {source}'
        if isinstance(item, Mapping):
            messages.append(_message(item, where))
        elif (isinstance(item, (list, tuple)) and len(item) == 2
              and all(isinstance(s, str) for s in item)):
            messages += [{'role': 'user', 'content': item[0]},
                         {'role': 'assistant', 'content': item[1]}]
        else:
            raise PromptError(f'{where} is {_short(item)}: {_HISTORY_HELP}')
    return messages


def normalize_tools(tools: Any, source: str) -> list[dict]:
    """Check OpenAI tool dicts: ``{'type': 'function', 'function': {'name': ..., ...}}``."""
    if tools is None:
        return []
    if isinstance(tools, (str, Mapping)) or not isinstance(tools, Sequence):
        raise PromptError(f'{source} is a {type(tools).__name__}: pass a list of tool dicts')
    checked = []
    for i, tool in enumerate(tools):
        fn = tool.get('function') if isinstance(tool, Mapping) else None
        if (not isinstance(fn, Mapping) or not isinstance(fn.get('name'), str) or not fn['name']
                or tool.get('type', 'function') != 'function'):
            raise PromptError(
                f'tool {i} of {source} is {_short(tool)}: use an OpenAI tool dict '
                "{'type': 'function', 'function': {'name': 'get_weather', 'parameters': {...}}}")
        checked.append(copy.deepcopy({'type': 'function', **tool}))
    return checked


def content_text(msg: Mapping) -> str:
    """The text of a message, for text layouts. Image or audio parts cannot be written as
    text, so they are an error rather than silently dropped. A turn that only calls tools
    has no text (its calls are laid out apart)."""
    content = msg.get('content')
    if content is None:
        return ''
    if isinstance(content, str):
        return content
    texts = []
    for part in content:
        if part.get('type') != 'text':
            raise PromptError(f"a {msg['role']} message has a {part.get('type')!r} part, which "
                              "plain text cannot hold: use format='openai' or a chat_template")
        texts.append(str(part.get('text', '')))
    return '\n'.join(texts)
