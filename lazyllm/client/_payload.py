"""Check the caller's input and build the JSON body of each OpenAI request.

Bad input is refused here, before any I/O, with an InputError that says what to pass
instead: a server's 400 for an empty message list or a missing role is far harder to read.
Sync and async clients share these functions, so both refuse exactly the same input.
"""
from __future__ import annotations

import json
from typing import Any, Mapping

from ..errors import InputError

__all__ = ['chat_payload', 'completion_payload', 'embed_payload', 'rerank_payload',
           'classify_payload', 'encode']

_EXAMPLE = "[{'role': 'user', 'content': 'hi'}]"
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(',', ':'), allow_nan=False)


def encode(payload: Any) -> bytes:
    """The request body as compact UTF-8 JSON (what httpx's ``json=`` would send)."""
    try:
        return _ENCODER.encode(payload).encode('utf-8')
    except (TypeError, ValueError) as e:
        raise InputError(f'the request cannot be sent as JSON ({e}): pass only str, int, '
                         f'float (not NaN/inf), bool, None, lists and dicts as parameters') from e


def _base(model: str | None, params: Mapping[str, Any], stream: bool) -> dict:
    if 'stream' in params:
        raise InputError('stream= is not a parameter here: call stream_chat() / '
                         'stream_complete() for a streamed answer, chat() / complete() otherwise')
    if model is not None and (not isinstance(model, str) or not model):
        raise InputError(f'model must be a non-empty str or None, not {model!r}: pass the '
                         f'served model name, or None to let a one-model server choose')
    payload = dict(params)
    if model is not None:
        payload['model'] = model
    if stream:
        payload['stream'] = True
    return payload


def _check_messages(messages: Any) -> list:
    if isinstance(messages, str):
        return [{'role': 'user', 'content': messages}]
    if not isinstance(messages, (list, tuple)):
        raise InputError(f'messages must be a list of dicts, not {type(messages).__name__}: '
                         f'pass e.g. {_EXAMPLE}')
    if not messages:
        raise InputError(f'messages is empty: pass at least one message, e.g. {_EXAMPLE}')
    for i, m in enumerate(messages):
        if not isinstance(m, Mapping):
            raise InputError(f'message #{i} is a {type(m).__name__}, not a dict: pass messages '
                             f'like {_EXAMPLE}')
        role = m.get('role')
        if not isinstance(role, str) or not role:
            raise InputError(f"message #{i} has no 'role': add 'role': 'user' (or 'system', "
                             f"'assistant', 'tool') to {dict(m)!r:.80}")
        content = m.get('content')
        if content is None and not (role == 'assistant' and m.get('tool_calls')):
            raise InputError(f"message #{i} (role {role!r}) has no 'content': add its text as "
                             f"'content' (only an assistant message with tool_calls may omit it)")
        if content is not None and not isinstance(content, (str, list)):
            raise InputError(f"message #{i} has content of type {type(content).__name__}: "
                             f"pass a str, or a list of content parts for multimodal input")
    return messages if isinstance(messages, list) else list(messages)


def chat_payload(messages: Any, model: str | None, params: Mapping[str, Any],
                 stream: bool = False) -> dict:
    """The body of ``POST chat/completions``. A str is taken as one user message."""
    payload = _base(model, params, stream)
    payload['messages'] = _check_messages(messages)
    return payload


def completion_payload(prompt: Any, model: str | None, params: Mapping[str, Any],
                       stream: bool = False) -> dict:
    """The body of ``POST completions`` (a str prompt, or a list of str prompts)."""
    if not isinstance(prompt, str) and not (
            isinstance(prompt, list) and prompt and all(isinstance(p, str) for p in prompt)):
        raise InputError(f'prompt must be a str or a non-empty list of str, not '
                         f'{type(prompt).__name__}: pass the text to continue')
    payload = _base(model, params, stream)
    payload['prompt'] = prompt
    return payload


def embed_payload(input: Any, model: str | None, params: Mapping[str, Any]) -> dict:
    """The body of ``POST embeddings``; ``input`` is a str or a non-empty list of str."""
    if isinstance(input, str):
        texts = [input]
    elif isinstance(input, (list, tuple)) and input:
        texts = list(input)
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise InputError(f'embedding input #{i} is a {type(t).__name__}, not a str: '
                                 f'pass texts only (convert numbers with str())')
    else:
        raise InputError(f'embedding input must be a str or a non-empty list of str, not '
                         f'{input!r:.60}: pass the text(s) to embed')
    payload = _base(model, params, False)
    payload['input'] = texts
    return payload


def classify_payload(input: Any, model: str | None, params: Mapping[str, Any]) -> dict:
    """The body of ``POST /classify`` (vLLM's shape); ``input`` is a non-empty str or a
    non-empty list of non-empty str."""
    texts = [input] if isinstance(input, str) else input
    if not isinstance(texts, (list, tuple)) or not texts:
        raise InputError(f'classify input must be a str or a non-empty list of str, not '
                         f'{input!r:.60}: pass the text(s) to classify')
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise InputError(f'classify input #{i} is a {type(t).__name__}, not a str: pass '
                             f'texts only (convert other objects with str())')
        if not t.strip():
            raise InputError(f'classify input #{i} is empty: pass the text to classify (leave '
                             f'empty texts out)')
    payload = _base(model, params, False)
    payload['input'] = list(texts)
    return payload


def rerank_payload(query: Any, documents: Any, model: str | None, top_n: Any,
                   params: Mapping[str, Any]) -> dict:
    """The body of ``POST rerank`` (the vLLM / Jina / Cohere shape)."""
    if not isinstance(query, str):
        raise InputError(f'rerank query must be a str, not {type(query).__name__}: pass the '
                         f'question the documents are ranked against')
    if not isinstance(documents, (list, tuple)) or not all(isinstance(d, str) for d in documents):
        raise InputError(f'rerank documents must be a list of str, not {documents!r:.60}: '
                         f'pass the texts to rank (convert other objects to text first)')
    if top_n is not None and (isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1):
        raise InputError(f'top_n must be a positive int or None, not {top_n!r}: pass how many '
                         f'of the best documents to return, or None for all')
    payload = _base(model, params, False)
    payload['query'] = query
    payload['documents'] = list(documents)
    if top_n is not None:
        payload['top_n'] = top_n
    return payload
