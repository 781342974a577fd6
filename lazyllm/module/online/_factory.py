"""OnlineModule: one entry point for every online call type.

    lazyllm.OnlineModule(source='qwen', model='qwen-plus')                   # chat
    lazyllm.OnlineModule(source='qwen', model='text-embedding-v3')           # embed (by name)
    lazyllm.OnlineModule(source='glm', type='rerank')                        # rerank
    lazyllm.OnlineModule(source='openai', type='stt')                        # speech-to-text

The call type is ``type=`` when given, else read from the model name (``…embedding…`` is an
embedding model, ``…rerank…`` a reranker, ``whisper`` speech-to-text…), else ``llm``. The
module is a real OnlineModule that holds the module of that type (``.module``) and passes
calls and attribute reads to it; ``url=`` is that module's base URL.
"""
from __future__ import annotations

import inspect
from typing import Any

from ...errors import InputError
from .._proxy import ModuleProxy
from ._base import normalize_type
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


def route(model: str | None, type: Any) -> tuple[str, str]:
    """(call type, why) for a model name and an optional explicit type."""
    if type is not None:
        return normalize_type(type), f'type={type!r}'
    if model:
        from ...hub import type_from_name
        inferred = normalize_type(type_from_name(model).value)
        if inferred != 'llm':
            return inferred, f'the model name {model!r} reads as {inferred}'
    return 'llm', 'no type given and the model name reads as a chat model'


def accepted_keywords(cls: type) -> set[str]:
    """The keywords the module class of a call type takes (its sampling defaults too): what
    OnlineModule passes on, and what AutoModel lets a config entry set."""
    from .._config_map import keywords
    accepted = keywords(cls.__init__)
    if 'sampling' in inspect.signature(cls.__init__).parameters:
        from ._chat import SAMPLING
        accepted |= SAMPLING
    return accepted


class OnlineModule(ModuleProxy):
    """An online model of any call type; see the module docstring."""

    def __init__(self, model: str | None = None, source: str | None = None, *,
                 type: str | None = None, url: str | None = None,
                 base_url: str | None = None, name: str | None = None, **kw: Any):
        super().__init__(name=name)
        if url is not None and base_url is not None and url != base_url:
            raise InputError('pass url= or base_url= (the same thing), not both')
        self._type, self.why = route(model, type)
        cls = ROUTES[self._type]
        accepted = accepted_keywords(cls)
        unknown = sorted(set(kw) - accepted)
        if unknown:
            raise InputError(f'{cls.__name__} (type {self._type!r}) takes no keyword(s) '
                             f'{unknown}: it takes {sorted(accepted - {"model", "source"})}')
        self._adopt(cls(model, source, url or base_url, type=self._type, name=name, **kw))

    @property
    def type(self) -> str:
        return self._type

    def _repr_head(self) -> str:
        return f'OnlineModule[{self._type}]'

