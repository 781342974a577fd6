"""What the OpenAI-compatible test server answers: pure, deterministic functions of the
request body (no HTTP here; ``openai_server`` serves them and scripts the faults).

Tests import ``embed_vector``, ``rerank_score``, ``transcript``, ``speech_bytes`` and
``tiny_png`` to compute the expected values.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import struct
import wave
import zlib
from typing import Any

__all__ = ['chat', 'completion', 'embeddings', 'rerank', 'models', 'error', 'embed_vector',
           'rerank_score', 'carries_text', 'transcript', 'speech_bytes', 'wav_bytes', 'tiny_png',
           'SPEECH_TYPES']

_WORD = re.compile(r'\S+\s*')


def error(message: str, type_: str, code: int) -> dict:
    return {'error': {'message': message, 'type': type_, 'code': code}}


def models(model: str) -> dict:
    return {'object': 'list', 'data': [{'id': model, 'object': 'model',
                                        'owned_by': 'lazyllm-tests'}]}


def _text(content: Any) -> str:
    if isinstance(content, list):
        return ' '.join(p.get('text', '') for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ''


def _last_user_text(messages: list) -> str:
    for m in reversed(messages):
        if isinstance(m, dict) and m.get('role') == 'user':
            return _text(m.get('content'))
    return ''


def _words(text: str, max_tokens: Any) -> tuple[list[str], str]:
    words = _WORD.findall(text)
    if isinstance(max_tokens, int) and len(words) > max_tokens:
        return words[:max_tokens], 'length'
    return words, 'stop'


def _usage(prompt: int, completion: int) -> dict:
    return {'prompt_tokens': prompt, 'completion_tokens': completion,
            'total_tokens': prompt + completion}


def _with_usage(req: dict) -> bool:
    return bool((req.get('stream_options') or {}).get('include_usage'))


def chat(req: dict, default_model: str, think: bool | None = None) -> dict | list[dict]:
    """The answer to a chat request: a dict, or the list of chunks when ``stream``.

    The text of the last user message is echoed, one word per chunk. A model whose name
    contains ``reason`` (or any model when ``think``) thinks aloud first (``reasoning_content``
    "Thinking about: <text>"); ``tools`` make it call the first tool.
    """
    messages = req.get('messages') or []
    text = _last_user_text(messages)
    model = req.get('model') or default_model
    words, finish = _words(text, req.get('max_tokens'))
    if think is None:
        think = 'reason' in model
    reasoning = _WORD.findall(f'Thinking about: {text}') if think else []
    tools = req.get('tools') if req.get('tool_choice') != 'none' else None
    prompt_words = sum(len(_text(m.get('content')).split()) for m in messages
                       if isinstance(m, dict))
    usage = _usage(prompt_words, len(words))
    call = None
    if tools:
        call = {'id': 'call_0', 'type': 'function', 'function': {
            'name': tools[0]['function']['name'], 'arguments': json.dumps({'text': text})}}
        words, finish = [], 'tool_calls'
    if not req.get('stream'):
        message = {'role': 'assistant', 'content': None if call else ''.join(words)}
        if reasoning:
            message['reasoning_content'] = ''.join(reasoning)
        if call:
            message['tool_calls'] = [call]
        return {'id': 'chatcmpl-0', 'object': 'chat.completion', 'created': 0, 'model': model,
                'choices': [{'index': 0, 'message': message, 'finish_reason': finish}],
                'usage': usage}
    deltas = [{'role': 'assistant', 'content': ''}]
    deltas += [{'reasoning_content': w} for w in reasoning]
    deltas += [{'content': w} for w in words]
    if call:
        args = call['function']['arguments']
        deltas.append({'tool_calls': [{'index': 0, 'id': 'call_0', 'type': 'function',
                                       'function': {'name': call['function']['name'],
                                                    'arguments': ''}}]})
        deltas += [{'tool_calls': [{'index': 0, 'function': {'arguments': args[i:i + 5]}}]}
                   for i in range(0, len(args), 5)]
    base = {'id': 'chatcmpl-0', 'object': 'chat.completion.chunk', 'created': 0, 'model': model}
    chunks = [dict(base, choices=[{'index': 0, 'delta': d, 'finish_reason': None}])
              for d in deltas]
    chunks.append(dict(base, choices=[{'index': 0, 'delta': {}, 'finish_reason': finish}]))
    if _with_usage(req):
        chunks.append(dict(base, choices=[], usage=usage))
    return chunks


def completion(req: dict, default_model: str) -> dict | list[dict]:
    """The answer to a ``/completions`` request: the prompt echoed (chunks when ``stream``)."""
    prompt = req.get('prompt')
    text = prompt if isinstance(prompt, str) else ' '.join(map(str, prompt or []))
    words, finish = _words(text, req.get('max_tokens'))
    base = {'id': 'cmpl-0', 'object': 'text_completion', 'created': 0,
            'model': req.get('model') or default_model}
    usage = _usage(len(text.split()), len(words))
    if not req.get('stream'):
        return dict(base, usage=usage, choices=[{'index': 0, 'text': ''.join(words),
                                                 'finish_reason': finish}])
    chunks = [dict(base, choices=[{'index': 0, 'text': w, 'finish_reason': None}])
              for w in words]
    chunks.append(dict(base, choices=[{'index': 0, 'text': '', 'finish_reason': finish}]))
    if _with_usage(req):
        chunks.append(dict(base, choices=[], usage=usage))
    return chunks


def carries_text(chunk: dict) -> bool:
    """Whether a streamed chunk brings content text (faults count these)."""
    choices = chunk.get('choices') or [{}]
    return bool(choices[0].get('text') or (choices[0].get('delta') or {}).get('content'))


def embed_vector(text: str, dim: int = 8) -> list[float]:
    """The server's embedding of ``text``: ``dim`` floats in [-1, 1] from its SHA-256."""
    digest = b''
    while len(digest) < dim:
        digest += hashlib.sha256(text.encode() + bytes([len(digest) % 256])).digest()
    return [round(b / 127.5 - 1, 6) for b in digest[:dim]]


def embeddings(req: dict, default_model: str, default_dim: int) -> dict:
    """One vector per input, listed in reverse order (each with its ``index``)."""
    texts = req.get('input')
    texts = [texts] if isinstance(texts, str) else list(texts or [])
    dim = int(req.get('dimensions') or default_dim)
    b64 = req.get('encoding_format') == 'base64'
    data = []
    for i, t in reversed(list(enumerate(texts))):
        vec = embed_vector(str(t), dim)
        emb: Any = base64.b64encode(struct.pack(f'<{dim}f', *vec)).decode() if b64 else vec
        data.append({'object': 'embedding', 'index': i, 'embedding': emb})
    n = sum(len(str(t).split()) for t in texts)
    return {'object': 'list', 'data': data, 'model': req.get('model') or default_model,
            'usage': {'prompt_tokens': n, 'total_tokens': n}}


def rerank_score(query: str, document: str) -> float:
    """The server's relevance score: the share of the query's words found in the document."""
    q = set(query.lower().split())
    return round(len(q & set(document.lower().split())) / len(q), 6) if q else 0.0


def rerank(req: dict, default_model: str, shape: str = 'results') -> dict:
    """``results`` best first (vLLM / Jina / Cohere), or ``data`` in document order."""
    docs = list(req.get('documents') or [])
    scores = [rerank_score(str(req.get('query', '')), str(d)) for d in docs]
    if shape == 'data':
        return {'object': 'list', 'data': [{'index': i, 'score': s}
                                           for i, s in enumerate(scores)]}
    order = sorted(range(len(docs)), key=lambda i: (-scores[i], i))[:req.get('top_n')]
    return {'id': 'rerank-0', 'model': req.get('model') or default_model, 'results': [
        {'index': i, 'relevance_score': scores[i], 'document': {'text': docs[i]}}
        for i in order]}


# -- audio and images ----------------------------------------------------------------------
def transcript(filename: str, data: bytes) -> str:
    """What the server "hears" in an uploaded audio file."""
    return f'heard {len(data)} bytes of {filename}'


def wav_bytes(text: str, rate: int = 16000, samples: int = 16) -> bytes:
    """A real, tiny mono 16-bit WAV whose samples derive from the SHA-256 of ``text``."""
    digest = hashlib.sha256(text.encode()).digest()
    frames = struct.pack(f'<{samples}h', *((b - 128) * 64 for b in digest[:samples]))
    out = io.BytesIO()
    with wave.open(out, 'wb') as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return out.getvalue()


SPEECH_TYPES = {'mp3': 'audio/mpeg', 'wav': 'audio/wav', 'opus': 'audio/ogg', 'aac': 'audio/aac',
                'flac': 'audio/flac', 'pcm': 'audio/pcm'}


def speech_bytes(text: str, fmt: str = 'mp3') -> bytes:
    """The spoken ``text``: a real WAV for ``wav``, else ``b'ID3' + sha256(text)``."""
    if fmt == 'wav':
        return wav_bytes(text)
    return b'ID3' + hashlib.sha256(text.encode()).digest()


def tiny_png(rgb: tuple[int, int, int] = (255, 0, 0)) -> bytes:
    """A valid 1x1 RGB PNG, built by hand."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack('>I', len(data)) + kind + data
                + struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff))
    ihdr = struct.pack('>IIBBBBB', 1, 1, 8, 2, 0, 0, 0)
    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr)
            + chunk(b'IDAT', zlib.compress(b'\x00' + bytes(rgb))) + chunk(b'IEND', b''))
