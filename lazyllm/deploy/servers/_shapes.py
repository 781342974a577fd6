"""The OpenAI response objects the LLM engine sends: whole answers and stream chunks, for
chat (``chat.completion[.chunk]``) and raw completions (``text_completion``)."""
from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Choice:
    """One finished answer: its text (or None beside tool calls), calls and finish reason."""
    content: str | None
    finish_reason: str
    completion_tokens: int = 0
    tool_calls: list = field(default_factory=list)


class Shapes:
    """Builds the objects of one response (one id, one creation time)."""

    def __init__(self, kind: str, model: str):
        self.chat = kind == 'chat'
        self.head = {'id': f'{kind[:4]}-{uuid.uuid4().hex[:24]}',
                     'object': 'chat.completion' if self.chat else 'text_completion',
                     'created': int(time.time()), 'model': model}

    def answer(self, done: list[Choice], prompt_tokens: int) -> dict:
        """The non-stream body; ``done`` holds one Choice per prompt."""
        completion = sum(d.completion_tokens for d in done)
        choices = []
        for i, d in enumerate(done):
            if not self.chat:
                choices.append({'index': i, 'text': d.content or '', 'logprobs': None,
                                'finish_reason': d.finish_reason})
                continue
            message: dict = {'role': 'assistant', 'content': d.content, 'refusal': None}
            if d.tool_calls:
                message['tool_calls'] = d.tool_calls
            choices.append({'index': i, 'message': message, 'logprobs': None,
                            'finish_reason': d.finish_reason})
        return {**self.head, 'choices': choices, 'usage': usage(prompt_tokens, completion)}

    def chunk(self, i: int | None, delta: dict | None, finish: str | None,
              totals: dict | None = None) -> bytes:
        """One SSE frame: a chat delta (``{'role'}``, ``{'content'}`` or ``{'tool_calls'}``),
        a completion text piece (``delta={'text': …}``), or the final usage-only chunk
        (``totals``)."""
        if totals is not None:
            choices: list = []
        elif self.chat:
            choices = [{'index': i, 'delta': delta or {}, 'logprobs': None,
                        'finish_reason': finish}]
        else:
            choices = [{'index': i, 'text': (delta or {}).get('content', ''),
                        'logprobs': None, 'finish_reason': finish}]
        out: dict[str, Any] = {**self.head, 'choices': choices}
        if self.chat:
            out['object'] = 'chat.completion.chunk'
        if totals is not None:
            out['usage'] = totals
        return sse(out)


def usage(prompt: int, completion: int) -> dict:
    return {'prompt_tokens': prompt, 'completion_tokens': completion,
            'total_tokens': prompt + completion}


def sse(obj: Any) -> bytes:
    return b'data: ' + json.dumps(obj, ensure_ascii=False).encode() + b'\n\n'
