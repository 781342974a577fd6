"""Turn the JSON of each OpenAI endpoint into the client's result types.

Servers that claim OpenAI compatibility differ in small ways (``reasoning_content`` vs
``reasoning``, rerank ``results`` vs ``data``, ``relevance_score`` vs ``score``, embeddings
out of order or base64-encoded); the differences are absorbed here, once, for the sync and
the async client. A body of the wrong shape raises :class:`ShapeError`, which the caller
turns into a ProtocolError that names the URL.
"""
from __future__ import annotations

import base64
from array import array
from typing import Any

from ._types import ChatDelta, ChatResult, CompletionResult

__all__ = ['ShapeError', 'parse_chat', 'parse_completion', 'parse_embeddings', 'parse_rerank',
           'parse_classify', 'parse_models', 'chat_delta', 'completion_delta']


class ShapeError(Exception):
    """The JSON parsed but is not what the endpoint should answer. Raised by parsers (also
    the ones other protocols pass to ``request``/``stream_events``); the client turns it into
    a ProtocolError that names the URL."""


def _first_choice(data: Any, key: str) -> tuple[dict, Any]:
    try:
        choice = data['choices'][0]
        return choice, choice[key]
    except (KeyError, IndexError, TypeError):
        raise ShapeError(f'expected {{"choices": [{{"{key}": …}}]}}, got {data!r:.200}') from None


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # content parts: [{'type': 'text', 'text': …}]
        return ''.join(p.get('text') or '' for p in value if isinstance(p, dict))
    return ''


def parse_chat(data: Any) -> ChatResult:
    choice, msg = _first_choice(data, 'message')
    if not isinstance(msg, dict):
        raise ShapeError(f'choices[0].message is not an object: {msg!r:.200}')
    return ChatResult(_text(msg.get('content')),
                      msg.get('reasoning_content') or msg.get('reasoning') or '',
                      msg.get('tool_calls') or [], choice.get('finish_reason'),
                      data.get('usage'), data.get('model'), data)


def parse_completion(data: Any) -> CompletionResult:
    choice, text = _first_choice(data, 'text')
    return CompletionResult(text or '', choice.get('finish_reason'), data.get('usage'), data)


def chat_delta(chunk: Any) -> ChatDelta | None:
    """The delta of one streamed chat chunk; None for a chunk that carries nothing."""
    try:
        choices = chunk.get('choices')
        if choices:
            c = choices[0]
            d = c.get('delta') or c.get('message') or {}
            return ChatDelta(d.get('content') or '',
                             d.get('reasoning_content') or d.get('reasoning') or '',
                             d.get('tool_calls') or [], c.get('finish_reason'),
                             chunk.get('usage'), chunk)
    except AttributeError:
        raise ShapeError(f'a stream chunk is not a chat.completion.chunk: {chunk!r:.200}') from None
    usage = chunk.get('usage')
    return ChatDelta(usage=usage, raw=chunk) if usage else None


def completion_delta(chunk: Any) -> ChatDelta | None:
    """The delta of one streamed ``/completions`` chunk, as a ChatDelta (text in content)."""
    try:
        choices = chunk.get('choices')
        if choices:
            c = choices[0]
            return ChatDelta(c.get('text') or '', '', [], c.get('finish_reason'),
                             chunk.get('usage'), chunk)
    except AttributeError:
        raise ShapeError(f'a stream chunk is not a text_completion: {chunk!r:.200}') from None
    usage = chunk.get('usage')
    return ChatDelta(usage=usage, raw=chunk) if usage else None


def _vector(value: Any) -> list[float]:
    if isinstance(value, str):  # encoding_format='base64': little-endian float32
        floats = array('f')
        floats.frombytes(base64.b64decode(value))
        return floats.tolist()
    if isinstance(value, list):
        return value
    raise ShapeError(f'an embedding is neither a list of floats nor base64: {value!r:.100}')


def parse_embeddings(data: Any, count: int) -> list[list[float]]:
    """One vector per input, in input order (servers may answer out of order)."""
    try:
        items = sorted(data['data'], key=lambda item: item.get('index', 0))
        vectors = [_vector(item['embedding']) for item in items]
    except (KeyError, TypeError, AttributeError):
        raise ShapeError(f'expected {{"data": [{{"index": …, "embedding": […]}}]}}, '
                         f'got {data!r:.200}') from None
    if len(vectors) != count:
        raise ShapeError(f'{count} input(s) were sent but {len(vectors)} embedding(s) came back')
    return vectors


def parse_rerank(data: Any, top_n: int | None) -> list[tuple[int, float]]:
    """(document index, score) pairs, best first; ``results`` or ``data`` shape."""
    try:
        items = data.get('results')
        if items is None:
            items = data['data']
        ranked = []
        for item in items:
            score = item.get('relevance_score')
            ranked.append((int(item['index']),
                           float(item['score'] if score is None else score)))
    except (KeyError, TypeError, ValueError, AttributeError):
        raise ShapeError(f'expected {{"results": [{{"index": …, "relevance_score": …}}]}}, '
                         f'got {data!r:.200}') from None
    ranked.sort(key=lambda pair: -pair[1])
    return ranked[:top_n] if top_n is not None else ranked


def _classification(item: dict, names: Any) -> dict:
    probs = [float(p) for p in item['probs']]
    if not probs:
        raise ValueError('no probabilities')
    best = max(range(len(probs)), key=probs.__getitem__)
    if isinstance(names, list) and len(names) == len(probs):
        names = [str(n) for n in names]
    else:  # vLLM names only the best class: the others get transformers' default names
        names = [f'LABEL_{k}' for k in range(len(probs))]
        names[best] = str(item.get('label') or names[best])
    label = str(item.get('label') or names[best])
    scores = dict(zip(names, probs))
    return {'label': label, 'score': scores.get(label, probs[best]), 'scores': scores}


def parse_classify(data: Any, count: int) -> list[dict]:
    """One ``{'label', 'score', 'scores': {label: probability}}`` per input, in input order,
    from vLLM's ``{"data": [{"index", "label", "probs", "num_classes"}]}`` (class names from
    the top-level ``labels`` that lazyllm's engine adds, else ``LABEL_k``)."""
    try:
        items = sorted(data['data'], key=lambda item: item.get('index', 0))
        out = [_classification(item, data.get('labels')) for item in items]
    except (KeyError, TypeError, ValueError, AttributeError):
        raise ShapeError(f'expected {{"data": [{{"index": …, "label": …, "probs": […]}}]}}, '
                         f'got {data!r:.200}') from None
    if len(out) != count:
        raise ShapeError(f'{count} input(s) were sent but {len(out)} classification(s) came '
                         f'back')
    return out


def parse_models(data: Any) -> list[str]:
    try:
        return [m['id'] for m in data['data']]
    except (KeyError, TypeError):
        raise ShapeError(f'expected {{"data": [{{"id": …}}]}}, got {data!r:.200}') from None
