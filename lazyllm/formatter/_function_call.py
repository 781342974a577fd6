"""FunctionCallFormatter: the assistant message of a model that may call tools."""
from __future__ import annotations

import json
from typing import Any

from ..errors import FormatError
from ._base import FormatterBase
from ._message import as_message, is_chat_message

TOOL_CALLS_DELIMITER = '<|tool_calls|>'   # LazyLLM's text form: content<|tool_calls|>[...]
_KEPT = ('role', 'content', 'tool_calls')


class FunctionCallFormatter(FormatterBase):
    """The answer as an OpenAI assistant message: ``role``, ``content`` and, when the model
    called tools, ``tool_calls`` (other fields such as reasoning are dropped, as LazyLLM
    does). That is the message to append to the history before the tools' results.

    A plain text answer (our modules return one when the model called no tool) becomes
    ``{'role': 'assistant', 'content': text}``, so the result always has one shape; LazyLLM's
    text form ``content<|tool_calls|>[...json...]`` is read too.
    """

    def format(self, output: Any) -> Any:
        if is_chat_message(output):
            message = as_message(output)
            return {k: message[k] for k in _KEPT if k in message}
        if isinstance(output, str):
            return self._from_text(output)
        raise FormatError(f'FunctionCallFormatter got a {type(output).__name__}: it reads an '
                          "assistant message (a dict with 'role' and 'content') or the "
                          "model's text")

    @staticmethod
    def _from_text(text: str) -> dict:
        if TOOL_CALLS_DELIMITER not in text:
            return {'role': 'assistant', 'content': text}
        content, calls = text.split(TOOL_CALLS_DELIMITER, 1)
        try:
            tool_calls = json.loads(calls)
        except json.JSONDecodeError as e:
            raise FormatError(f'the tool calls after {TOOL_CALLS_DELIMITER} are not valid JSON '
                              f'({e.msg} at position {e.pos}): {calls[:200]!r}; the model or '
                              'server wrote a broken tool call') from e
        if isinstance(tool_calls, dict):
            tool_calls = [tool_calls]
        if not isinstance(tool_calls, list):
            raise FormatError(f'the tool calls after {TOOL_CALLS_DELIMITER} are a '
                              f'{type(tool_calls).__name__}, not a list of tool calls')
        return {'role': 'assistant', 'content': content, 'tool_calls': tool_calls}
