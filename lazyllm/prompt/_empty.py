"""EmptyPrompter: no prompt at all; the input is passed through as it is.

What ``module.prompt(None)`` sets, as in LazyLLM: no system text, no template. As messages
the input is the user's turn, after the call's history; as text it is returned unchanged.
"""
from __future__ import annotations

import copy
from typing import Any, Mapping

from .._log import get_logger
from ..errors import InputError, PromptError
from ._base import PrompterBase
from ._messages import check_content, normalize_history, normalize_tools


class EmptyPrompter(PrompterBase):
    """Passes the input through. ``EmptyPrompter().generate_prompt('hi')`` is ``'hi'``;
    with ``format='openai'`` it is ``{'messages': [{'role': 'user', 'content': 'hi'}]}``.

    A message dict input (``{'role': ..., 'content': ...}``) is sent as that message; a list
    of content parts is the user's content. A dict of values has nothing to fill here, so it
    is an error in ``format='openai'`` (in text it is returned unchanged, as LazyLLM does).
    """

    def __init__(self, show: bool = False):
        super().__init__(show=show)

    def __repr__(self) -> str:
        return 'EmptyPrompter()'

    def generate_prompt(self, input: Any = None, history: Any = None, tools: Any = None,
                        label: str | None = None, *, show: bool = False,
                        format: str | None = None, return_dict: bool = False,
                        chat_template: Any = None) -> Any:
        """``input`` unchanged (text) or as the user message after ``history`` (openai)."""
        if chat_template is not None:
            raise InputError('an EmptyPrompter lays nothing out, so it takes no chat_template: '
                             'use a ChatPrompter with chat_template=')
        format = self._format(format, return_dict, label, None)
        history = normalize_history(history, 'the history passed to generate_prompt')
        tools = normalize_tools(tools, 'the tools passed to generate_prompt')
        if format == 'openai':
            result: Any = {'messages': history + self._turn(input),
                           **({'tools': tools} if tools else {})}
        else:
            if history or tools:
                raise PromptError('an EmptyPrompter returns the text input unchanged, so it '
                                  "has no place for history or tools: use format='openai' or "
                                  'a ChatPrompter')
            result = copy.deepcopy(input)
            if label:
                if not isinstance(result, str):
                    raise InputError('label is appended to a str input: pass a str input')
                result += label
        if show or self._show:
            get_logger().info('prompt: %r', result)
        return result

    @staticmethod
    def _turn(input: Any) -> list[dict]:
        if input is None:
            return []
        if isinstance(input, str):
            return [{'role': 'user', 'content': input}]
        if isinstance(input, Mapping) and 'role' in input:
            return normalize_history([input], 'the input message')
        if isinstance(input, (list, tuple)):
            return [{'role': 'user', 'content': check_content(input, 'the input')}]
        raise PromptError(f'an EmptyPrompter has no placeholders to fill, so a '
                          f'{type(input).__name__} input cannot be sent: pass a str or a '
                          "message dict, or give the module a prompter with keys (e.g. "
                          "ChatPrompter('... {context}', extra_keys=...))")

