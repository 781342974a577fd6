"""OnlineModule: one entry point for every online call type.

    lazyllm.OnlineModule(source='qwen', model='qwen-plus')                   # chat
    lazyllm.OnlineModule(source='qwen', model='text-embedding-v3')           # embed (by name)
    lazyllm.OnlineModule(source='glm', type='rerank')                        # rerank
    lazyllm.OnlineModule(source='openai', type='stt')                        # speech-to-text

The call type is ``type=`` (LazyLLM's ``function=``) when given, else read from the model
name (``…embedding…`` is an embedding model, ``…rerank…`` a reranker, ``whisper``
speech-to-text…), else ``llm``; a type name that is no call type is ``llm`` with a warning,
as in LazyLLM. ``OnlineModule(...)`` returns the module of that type itself (see
``module/_factory.py``); ``url=`` (or ``base_url=``, ``embed_url=``) is its base URL and
``embed_model_name=`` names an embedding model.
"""
from __future__ import annotations

import inspect
from typing import Any

from ...errors import InputError
from .._factory import Factory, alias
from ._base import OnlineBase, normalize_type
from ._chat import OnlineChatModule
from ._embedding import OnlineEmbeddingModule
from ._multimodal import OnlineMultiModalModule

__all__ = ['OnlineModule', 'ROUTES', 'route', 'accepted_keywords']

ROUTES: dict[str, type] = {
    'llm': OnlineChatModule, 'vlm': OnlineChatModule,
    'embed': OnlineEmbeddingModule, 'cross_modal_embed': OnlineEmbeddingModule,
    'rerank': OnlineEmbeddingModule,
    'stt': OnlineMultiModalModule, 'tts': OnlineMultiModalModule,
    'text2image': OnlineMultiModalModule, 'image_editing': OnlineMultiModalModule,
}


def route(model: str | None, type: Any, embed: bool = False) -> tuple[str, str]:
    """(call type, why) for a model name and an optional explicit type. ``embed``: the model
    came as ``embed_model_name=`` (LazyLLM's spelling), so a name that reads as no embedding
    model still makes an embedding module."""
    if type is not None:
        return normalize_type(type), f'type={type!r}'
    inferred = 'llm'
    if model:
        from ...hub import model_type
        inferred = normalize_type(model_type(model).value)
    if embed and inferred not in _EMBED_TYPES:
        return 'embed', 'the model came as embed_model_name='
    if inferred != 'llm':
        return inferred, f'the model name {model!r} reads as {inferred}'
    return 'llm', 'no type given and the model name reads as a chat model'


_EMBED_TYPES = ('embed', 'cross_modal_embed', 'rerank')


def accepted_keywords(cls: type[Any]) -> set[str]:
    """The keywords the module class of a call type takes (its sampling defaults too): what
    OnlineModule passes on, and what AutoModel lets a config entry set."""
    from .._config_map import keywords
    accepted = keywords(cls.__init__)
    if 'sampling' in inspect.signature(cls.__init__).parameters:
        from .._chat import SAMPLING
        accepted |= SAMPLING
    return accepted


class OnlineModule(metaclass=Factory):
    """An online model of any call type; see the module docstring. Calling the class returns
    an OnlineChatModule, OnlineEmbeddingModule or OnlineMultiModalModule, and
    ``isinstance(m, OnlineModule)`` is true for each of them."""

    @staticmethod
    def products() -> tuple[type, ...]:
        return (OnlineBase,)

    @classmethod
    def build(cls, model: str | None = None, source: str | None = None, *,
              type: str | None = None, url: str | None = None, base_url: str | None = None,
              name: str | None = None, **kw: Any) -> OnlineBase:
        """The module of the call type ``model`` and ``type`` name (see :func:`route`)."""
        embed_name = kw.pop('embed_model_name', None)
        model = alias(model, 'model', embed_name, 'embed_model_name')
        type = alias(type, 'type', kw.pop('function', None), 'function')
        url = alias(url, 'url', base_url, 'base_url')
        url = alias(url, 'url', kw.pop('embed_url', None), 'embed_url')
        call_type, _ = route(model, type, embed=embed_name is not None)
        target = ROUTES[call_type]
        accepted = accepted_keywords(target) - {'embed_url', 'embed_model_name'}
        unknown = sorted(set(kw) - accepted)
        if unknown:
            raise InputError(f'{target.__name__} (type {call_type!r}) takes no keyword(s) '
                             f'{unknown}: it takes {sorted(accepted - {"model", "source"})}')
        return target(model, source, url, type=call_type, name=name, **kw)


