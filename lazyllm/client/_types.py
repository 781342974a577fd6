"""What the client returns: plain dataclasses, never the server's raw JSON alone.

Callers (modules, formatters, the CLI) should not have to know where each OpenAI-compatible
server hides the reasoning text or how tool-call fragments arrive in a stream; these types
give them one shape, and keep the server's JSON in ``raw`` for anything else.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Iterable

__all__ = ['ChatResult', 'ChatDelta', 'CompletionResult', 'merge_tool_calls']


@dataclass(slots=True)
class ChatDelta:
    """One streamed chunk: the new text, reasoning text and tool-call fragments it carries.

    ``tool_calls`` holds the fragments as the server sent them (each with its ``index``);
    ``usage`` is set on the final chunk when the request asked for it
    (``stream_options={'include_usage': True}``).
    """
    content: str = ''
    reasoning_content: str = ''
    tool_calls: list = field(default_factory=list)
    finish_reason: str | None = None
    usage: dict | None = None
    raw: dict = field(default_factory=dict)


@dataclass(slots=True)
class ChatResult:
    """A whole chat answer. ``tool_calls`` are complete (fragments merged by index)."""
    content: str = ''
    reasoning_content: str = ''
    tool_calls: list = field(default_factory=list)
    finish_reason: str | None = None
    usage: dict | None = None
    model: str | None = None
    raw: dict = field(default_factory=dict)

    @classmethod
    def from_deltas(cls, deltas: Iterable[ChatDelta]) -> ChatResult:
        """Accumulate a stream into the result a non-streamed call would have given.

        ``raw`` is the last chunk's JSON; ``model`` the first one the chunks named.
        """
        content: list[str] = []
        reasoning: list[str] = []
        fragments: list[dict] = []
        finish = usage = model = None
        raw: dict = {}
        for d in deltas:
            if d.content:
                content.append(d.content)
            if d.reasoning_content:
                reasoning.append(d.reasoning_content)
            if d.tool_calls:
                fragments.extend(d.tool_calls)
            finish = d.finish_reason or finish
            usage = d.usage or usage
            model = model or d.raw.get('model')
            raw = d.raw or raw
        return cls(''.join(content), ''.join(reasoning), merge_tool_calls(fragments), finish,
                   usage, model, raw)


@dataclass(slots=True)
class CompletionResult:
    """A whole answer of the legacy ``/completions`` endpoint."""
    text: str = ''
    finish_reason: str | None = None
    usage: dict | None = None
    raw: dict = field(default_factory=dict)


def merge_tool_calls(fragments: Iterable[dict]) -> list[dict]:
    """Merge streamed tool-call fragments into whole calls, ordered by their ``index``.

    The first fragment of a call carries ``id``, ``type`` and ``function.name``; later ones
    append to ``function.arguments``. A fragment without ``index`` continues the last call
    unless it brings a new ``id``. Names are appended only when a fragment repeats no name
    already seen (some servers resend the whole name in every fragment).
    """
    calls: dict[int, dict] = {}
    for frag in fragments:
        if not isinstance(frag, dict):
            continue
        index = frag.get('index')
        if not isinstance(index, int):
            last = max(calls, default=-1)
            new = last < 0 or (frag.get('id') and frag.get('id') != calls[last].get('id'))
            index = last + 1 if new else last
        call = calls.get(index)
        if call is None:
            call = calls[index] = {'id': '', 'type': 'function',
                                   'function': {'name': '', 'arguments': ''}}
        if frag.get('id') and not call['id']:
            call['id'] = frag['id']
        if frag.get('type'):
            call['type'] = frag['type']
        fn = frag.get('function') or {}
        name = fn.get('name')
        if name and name != call['function']['name']:
            call['function']['name'] += name
        args = fn.get('arguments')
        if isinstance(args, str):
            call['function']['arguments'] += args
        elif args is not None:  # some servers send arguments as an object, not a string
            call['function']['arguments'] += json.dumps(args, ensure_ascii=False)
    return [calls[i] for i in sorted(calls)]
