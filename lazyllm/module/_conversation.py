"""Conversation: a chat with memory that always fits the model's context.

    chat = lazyllm.Conversation(llm, system='You are terse.')     # any chat module
    chat('My name is Ada.')
    chat('What is my name?')          # the history goes with every call
    chat.dropped                      # turns dropped to stay within the budget, oldest first

Before each call the messages (system prompt, past turns, the new message) are counted; while
they and the answer's room (``max_tokens`` of the call, else ``reserve``) exceed the model's
context (``max_context_length`` of the module, or the one given), the oldest turn (a user
message and what answered it) is dropped and logged. The system prompt is never dropped; a
new message that alone does not fit is an InputError, and nothing is sent.

Tokens are counted with the model's own tokenizer and chat template for a local model folder
(exact: what the engine will see); otherwise estimated at 4 characters a token plus 4 per
message, unless ``count_tokens=`` gives a counter (``messages -> int``).
"""
from __future__ import annotations

import math
import os
from typing import Any, Callable, Iterator

from .._log import get_logger
from ..errors import InputError

__all__ = ['Conversation', 'estimate_tokens']


def estimate_tokens(messages: list[dict]) -> int:
    """A tokenizer-free estimate: 4 characters a token, 4 tokens of framing per message."""
    return sum(math.ceil(len(str(m.get('content') or '')) / 4) + 4 for m in messages) + 2


def _local_counter(module: Any) -> Callable[[list[dict]], int] | None:
    """An exact counter for a TrainableModule on a local folder: its tokenizer, and the chat
    template the engine uses (the tokenizer's, else the deployment's chat_template option)."""
    dep = getattr(module, 'deployment', None)
    folder = getattr(dep, 'model', '')
    if not folder or not os.path.isdir(folder):
        return None
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(folder)
    option = (getattr(dep, 'options', None) or {}).get('chat_template')
    if not getattr(tok, 'chat_template', None) and option:
        from ..prompt import chat_template
        tok.chat_template = chat_template(option)
    if not getattr(tok, 'chat_template', None):
        return None

    def count(messages: list[dict]) -> int:
        text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return len(tok.encode(text, add_special_tokens=False))
    return count


class Conversation:
    """See the module docstring."""

    def __init__(self, model: Any, *, system: str | None = None,
                 max_context_length: int | None = None, reserve: int = 256,
                 count_tokens: Callable[[list[dict]], int] | None = None):
        if not callable(model):
            raise InputError(f'Conversation needs a chat module (TrainableModule, '
                             f'OnlineChatModule…), not {type(model).__name__}.')
        if system is not None and (not isinstance(system, str) or not system.strip()):
            raise InputError('system must be a non-empty str or None.')
        for name, value in (('max_context_length', max_context_length), ('reserve', reserve)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < (1 if name == 'max_context_length' else 0)):
                raise InputError(f'{name} must be a positive int, got {value!r}.')
        if count_tokens is not None and not callable(count_tokens):
            raise InputError('count_tokens must be a function of the messages -> int.')
        self.model, self.system, self.reserve = model, system, reserve
        self._budget, self._count = max_context_length, count_tokens
        self.turns: list[dict] = []
        self.dropped: list[dict] = []

    # -- what is sent -----------------------------------------------------------------------
    @property
    def max_context_length(self) -> int | None:
        return self._budget or getattr(self.model, 'max_context_length', None)

    def count(self, messages: list[dict]) -> int:
        """Tokens of ``messages`` as the model will see them (see the module docstring)."""
        if self._count is None:
            self._count = _local_counter(self.model) or estimate_tokens
        return self._count(messages)

    @property
    def history(self) -> list[dict]:
        """The messages the next call sends before the new one (system prompt first)."""
        head = [{'role': 'system', 'content': self.system}] if self.system else []
        return head + [dict(m) for m in self.turns]

    def _fit(self, text: str, answer_room: int) -> None:
        """Drop the oldest turns until history + ``text`` + the answer fit the context."""
        budget = self.max_context_length
        if not budget:
            return
        limit = budget - answer_room
        user = {'role': 'user', 'content': text}
        removed: list[dict] = []
        while self.count(self.history + [user]) > limit:
            if not self.turns:
                self.turns[:0] = removed          # nothing sent: keep the history as it was
                raise InputError(
                    f'the message does not fit: with the system prompt it takes '
                    f'{self.count(self.history + [user])} tokens, and the context of '
                    f'{budget} leaves {limit} after {answer_room} for the answer. Shorten it, '
                    f'or lower max_tokens / reserve.')
            # one turn: a user message and everything up to the next user message
            end = next((i for i, m in enumerate(self.turns[1:], 1) if m['role'] == 'user'),
                       len(self.turns))
            removed += self.turns[:end]
            del self.turns[:end]
        if removed:
            self.dropped += removed
            get_logger().info('conversation: dropped the %d oldest message(s) to fit %d '
                              'tokens', len(removed), budget)

    # -- calls ------------------------------------------------------------------------------
    def _prepare(self, text: Any, kw: dict) -> None:
        if not isinstance(text, str) or not text.strip():
            raise InputError('a conversation takes a non-empty str message.')
        if 'history' in kw:
            raise InputError('a Conversation keeps the history itself: do not pass history=.')
        self._fit(text, kw.get('max_tokens') or self.reserve)

    def __call__(self, text: str, **kw: Any) -> Any:
        """Send ``text`` with the history; the answer is added to the history."""
        self._prepare(text, kw)
        answer = self.model(text, history=self.history, **kw)
        self._remember(text, answer)
        return answer

    def stream(self, text: str, **kw: Any) -> Iterator[str]:
        """The answer as it arrives; added to the history once complete."""
        self._prepare(text, kw)
        pieces = []
        for piece in self.model.stream(text, history=self.history, **kw):
            pieces.append(piece)
            yield piece
        self._remember(text, ''.join(p for p in pieces if isinstance(p, str)))

    def _remember(self, text: str, answer: Any) -> None:
        self.turns += [{'role': 'user', 'content': text},
                       {'role': 'assistant', 'content': str(answer)}]

    def clear(self) -> None:
        """Forget the turns (the system prompt stays)."""
        self.turns.clear()

    def __repr__(self) -> str:
        return (f'<Conversation {len(self.turns)} messages, {len(self.dropped)} dropped, '
                f'context {self.max_context_length}>')
