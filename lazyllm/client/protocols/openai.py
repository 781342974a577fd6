"""The OpenAI wire protocol, as most suppliers (and vLLM, and lazyllm's own engines) speak it.

Every function here returns a *call*: a function of a client (sync :class:`~lazyllm.client.
Client` or :class:`~lazyllm.client.AsyncClient`) that sends one request and returns its
parsed answer (a coroutine or an async iterator with the async client). Building the call
checks the input; sending it is the module's business. Other protocols (``anthropic``,
``dashscope``) return calls of the same shape, so a module never branches on the supplier.
"""
from __future__ import annotations

from typing import Any, Callable

from ...errors import InputError
from .._parse import ShapeError

__all__ = ['chat', 'embed', 'rerank', 'transcribe', 'speech', 'images', 'edit_image']

Call = Callable[[Any], Any]


def chat(messages: list, model: str | None, params: dict, stream: bool, supplier: Any,
         url: str) -> Call:
    if stream:
        if supplier.stream_usage and 'stream_options' not in params:
            params = {**params, 'stream_options': {'include_usage': True}}
        return lambda c: c.stream_chat(messages, model=model, **params)
    return lambda c: c.chat(messages, model=model, **params)


def embed(texts: list, model: str | None, params: dict, supplier: Any) -> Call:
    return lambda c: c.embed(texts, model=model, **params)


def rerank(query: str, documents: list, model: str | None, top_n: int | None, params: dict,
           supplier: Any) -> Call:
    return lambda c: c.rerank(query, documents, model=model, top_n=top_n, **params)


def _with_model(model: str | None, body: dict) -> dict:
    """``body`` with ``model`` first, left out when None (the server's own model)."""
    return body if model is None else {'model': model, **body}


def _form(model: str | None, params: dict) -> dict:
    form: dict[str, str | int | float] = {} if model is None else {'model': model}
    for k, v in params.items():
        if not isinstance(v, (str, int, float)) or isinstance(v, bool):
            raise InputError(f'{k}={v!r} cannot be sent in an upload form: pass a str or number')
        form[k] = v
    return form


def _text(data: Any) -> str:
    if isinstance(data, dict) and isinstance(data.get('text'), str):
        return data['text']
    raise ShapeError(f'expected {{"text": …}}, got {data!r:.200}')


def transcribe(audio: tuple, model: str | None, params: dict, supplier: Any) -> Call:
    """``POST audio/transcriptions``: ``audio`` is (filename, bytes, content type)."""
    form, files = _form(model, params), {'file': audio}
    return lambda c: c.request('POST', 'audio/transcriptions', form=form, files=files,
                               parse=_text)


def speech(text: str, model: str | None, params: dict, supplier: Any) -> Call:
    """``POST audio/speech``: the audio bytes."""
    body = _with_model(model, {'input': text, **params})
    body.setdefault('voice', 'alloy')
    return lambda c: c.request('POST', 'audio/speech', json=body, raw=True)


def _image_items(data: Any) -> list[dict]:
    items = data.get('data') or data.get('images') if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise ShapeError(f'expected {{"data": [{{"b64_json" or "url": …}}]}}, got {data!r:.200}')
    return items


def images(prompt: str, model: str | None, params: dict, supplier: Any) -> Call:
    """``POST images/generations``: a list of ``{'b64_json': …}`` or ``{'url': …}``."""
    body = _with_model(model, {'prompt': prompt, **params})
    return lambda c: c.request('POST', 'images/generations', json=body, parse=_image_items)


def edit_image(prompt: str, image: tuple, model: str | None, params: dict,
               supplier: Any) -> Call:
    """``POST images/edits`` (multipart): ``image`` is (filename, bytes, content type)."""
    form = {**_form(model, params), 'prompt': prompt}
    return lambda c: c.request('POST', 'images/edits', form=form, files={'image': image},
                               parse=_image_items)
