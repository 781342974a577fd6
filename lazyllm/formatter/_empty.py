"""EmptyFormatter: keep the model's output as it is."""
from __future__ import annotations

from typing import Any

from ._base import FormatterBase
from ._message import as_message, is_chat_message, shown_text


class EmptyFormatter(FormatterBase):
    """Return the output unchanged: the explicit "no formatting" choice, and a neutral
    element for ``|``.

    A chat message is shown as its text, with the model's reasoning in front the way LazyLLM
    shows it: ``<think>reasoning</think>answer``. An assistant message that called tools is
    returned whole: its tool calls are the answer, and dropping them would lose it.
    """

    def format(self, output: Any) -> Any:
        if is_chat_message(output):
            message = as_message(output)
            return output if message.get('tool_calls') else shown_text(message)
        return output
