"""Chat messages as formatter input: the text a formatter reads, and how reasoning shows.

A chat module may answer with a message rather than a str: an OpenAI assistant message
(``{'role': 'assistant', 'content': ..., 'tool_calls': [...]}``, what our modules return when
the model called tools) or the client's ``ChatResult`` (``content``, ``reasoning_content``,
``tool_calls``). LazyLLM's rule is that a formatter reads a chat message's ``content``. The
model's reasoning is not part of the answer, so parsing formatters ignore it; where it is
shown (EmptyFormatter), it is shown as LazyLLM shows it: ``<think>reasoning</think>answer``.
"""
from __future__ import annotations

from typing import Any

from ..errors import FormatError

THINK_OPEN, THINK_CLOSE = '<think>', '</think>'


def is_chat_message(value: Any) -> bool:
    """A dict with ``role`` and ``content`` (LazyLLM's test), or a ChatResult-like object."""
    if isinstance(value, dict):
        return 'role' in value and 'content' in value
    return all(hasattr(value, a) for a in ('content', 'reasoning_content', 'tool_calls'))


def as_message(value: Any) -> dict:
    """A chat message as an OpenAI assistant message dict (a dict is returned as is)."""
    if isinstance(value, dict):
        return value
    message = {'role': 'assistant', 'content': value.content}
    if value.reasoning_content:
        message['reasoning_content'] = value.reasoning_content
    if value.tool_calls:
        message['tool_calls'] = list(value.tool_calls)
    return message


def _text(content: Any) -> str | None:
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, list):   # content parts: [{'type': 'text', 'text': ...}, ...]
        return ''.join(p.get('text') or '' for p in content if isinstance(p, dict))
    raise FormatError(f'the chat message content is a {type(content).__name__}: a formatter '
                      'reads a str (or a list of text parts) there')


def reasoning_of(message: dict) -> str:
    return message.get('reasoning_content') or message.get('reasoning') or ''


def answer_text(value: Any, formatter: str) -> str:
    """The answer text of a chat message, for a formatter that parses it. A message that
    carries only tool calls has no text to parse: that is a FormatError naming the fix."""
    message = as_message(value)
    text = _text(message.get('content'))
    if text is None or (not text and message.get('tool_calls')):
        if message.get('tool_calls'):
            raise FormatError(f'{formatter} got an assistant message with tool calls and no '
                              'text: use FunctionCallFormatter() to keep the tool calls, or '
                              'run the tools and call the model again for a text answer')
        raise FormatError(f'{formatter} got a chat message whose content is None: the model '
                          'gave no text answer')
    return text


def shown_text(message: dict) -> str:
    """The message's text with its reasoning in front, LazyLLM's way:
    ``<think>reasoning</think>answer``."""
    text = _text(message.get('content')) or ''
    reasoning = reasoning_of(message)
    return f'{THINK_OPEN}{reasoning}{THINK_CLOSE}{text}' if reasoning else text


def without_reasoning(text: str) -> str:
    """``text`` without the reasoning a model wrote before its answer (everything up to the
    last ``</think>``); reasoning often quotes brackets and braces that are not the answer."""
    return text.rsplit(THINK_CLOSE, 1)[1] if THINK_CLOSE in text else text
