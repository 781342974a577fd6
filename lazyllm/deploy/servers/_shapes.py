"""The OpenAI response objects the LLM engine sends: whole answers and stream chunks, for
chat (``chat.completion[.chunk]``) and raw completions (``text_completion``)."""
from __future__ import annotations

import json
import time
import uuid
from typing import Any


class Shapes:
    """Builds the objects of one response (one id, one creation time)."""

    def __init__(self, kind: str, model: str):
        self.chat = kind == 'chat'
        self.head = {'id': f'{kind[:4]}-{uuid.uuid4().hex[:24]}',
                     'object': 'chat.completion' if self.chat else 'text_completion',
                     'created': int(time.time()), 'model': model}

    def answer(self, done: list, prompt_tokens: int) -> dict:
        """The non-stream body; ``done`` holds one finished Event per choice."""
        completion = sum(d.completion_tokens for d in done)
        choices = [({'index': i, 'message': {'role': 'assistant', 'content': d.text},
                     'finish_reason': d.finish_reason} if self.chat else
                    {'index': i, 'text': d.text, 'finish_reason': d.finish_reason})
                   for i, d in enumerate(done)]
        return {**self.head, 'choices': choices, 'usage': usage(prompt_tokens, completion)}

    def chunk(self, i: int | None, text: str | None, finish: str | None,
              first: bool = False, totals: dict | None = None) -> bytes:
        """One SSE frame: the role-only opening delta (chat), a text delta, or the final
        usage-only chunk (``totals``)."""
        if totals is not None:
            choices: list = []
        elif self.chat:
            delta = {'role': 'assistant', 'content': ''} if first else {'content': text}
            choices = [{'index': i, 'delta': delta, 'finish_reason': finish}]
        elif first:
            return b''
        else:
            choices = [{'index': i, 'text': text, 'finish_reason': finish}]
        out = {**self.head, 'choices': choices}
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
