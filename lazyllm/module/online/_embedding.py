"""OnlineEmbeddingModule: embeddings and reranking from an online supplier or a URL.

    emb = lazyllm.OnlineEmbeddingModule(source='qwen')               # text-embedding-v3
    emb('hello')                   # -> [0.01, …]      one vector for a str
    emb(['a', 'b', …])             # -> [[…], […], …]  one per text, in order
    rr = lazyllm.OnlineEmbeddingModule(source='glm', type='rerank')
    rr('query', documents=['d0', 'd1'], top_n=1)                      # -> [(1, 0.93)]

``type='cross_modal_embed'`` (DashScope's multimodal-embedding) puts texts and images
(``lazyllm_files=``) in one vector space. A long list is sent in batches of the supplier's
limit (DashScope takes 10 texts a request, OpenAI 2048) and the vectors come back in input
order. ``embed_url`` and
``embed_model_name`` are accepted as LazyLLM's names for ``base_url`` and ``model``.
"""
from __future__ import annotations

from typing import Any, Callable

from ...errors import InputError
from .._calls import embed_call, rerank_call
from . import _dashscope, _openai
from ._base import OnlineBase
from ._media import image_url

__all__ = ['OnlineEmbeddingModule']


class _Batched:
    """A client stand-in for ``embed_call``: embeds a list in batches of ``size``."""

    def __init__(self, module: 'OnlineEmbeddingModule', url: str, size: int):
        self.module, self.url, self.size = module, url, size

    def embed(self, texts: list, *, model: str | None, **params: Any) -> list:
        client = self.module._clients.api(self.url)
        vectors: list = []
        for start in range(0, len(texts), self.size):
            batch = texts[start:start + self.size]
            vectors += _openai.embed(batch, model, params, self.module.supplier)(client)
            self.module._usage.add(None)
        return vectors


class _Ranked:
    """A client stand-in for ``rerank_call`` that speaks the supplier's rerank protocol."""

    def __init__(self, module: 'OnlineEmbeddingModule', url: str):
        self.module, self.url = module, url

    def rerank(self, query: str, documents: list, *, model: str | None, top_n: int | None,
               **params: Any) -> list:
        client = self.module._clients.api(self.url)
        if self.module.supplier.protocol('rerank') == 'dashscope':
            call: Callable = _dashscope.rerank(query, documents, model, top_n, params,
                                               _dashscope.native_root(self.url))
        else:
            call = _openai.rerank(query, documents, model, top_n, params, self.module.supplier)
        pairs = call(client)
        self.module._usage.add(None)
        return pairs[:top_n] if top_n else pairs


class OnlineEmbeddingModule(OnlineBase):
    """Embeddings (``type='embed'``) or reranking (``type='rerank'``) behind an online API."""

    types = ('embed', 'cross_modal_embed', 'rerank')
    default_type = 'embed'

    def __init__(self, model: str | None = None, source: str | None = None,
                 base_url: str | None = None, *, type: str | None = None,
                 api_key: str | None = None, batch_size: int | None = None,
                 static_params: dict | None = None, timeout: float | None = None,
                 max_retries: int | None = None, name: str | None = None,
                 embed_url: str | None = None, embed_model_name: str | None = None):
        if embed_url is not None and base_url is not None and embed_url != base_url:
            raise InputError('pass base_url= or embed_url= (the same thing), not both')
        if embed_model_name is not None and model is not None and embed_model_name != model:
            raise InputError('pass model= or embed_model_name= (the same thing), not both')
        super().__init__(model or embed_model_name, source, base_url or embed_url, type=type,
                         api_key=api_key, static_params=static_params, timeout=timeout,
                         max_retries=max_retries, name=name)
        if batch_size is not None and (isinstance(batch_size, bool) or
                                       not isinstance(batch_size, int) or batch_size < 1):
            raise InputError(f'batch_size must be an int >= 1, not {batch_size!r}')
        self._batch = batch_size or self._supplier.embed_batch

    def _cross_modal(self, model: str | None, url: str, params: dict, input: Any = None,
                     lazyllm_files: Any = None) -> Any:
        """Texts (``input``) and images (``lazyllm_files``) in one vector space: a vector per
        item, texts first; one vector when one item was given."""
        texts = [input] if isinstance(input, str) else list(input or [])
        files = lazyllm_files if isinstance(lazyllm_files, (list, tuple)) else \
            ([lazyllm_files] if lazyllm_files is not None else [])
        if not texts and not files or not all(isinstance(t, str) and t for t in texts):
            raise InputError('a cross-modal embedding takes texts (a str or a list of str) '
                             'and/or images (lazyllm_files=[path, bytes, PIL image or URL])')
        contents = [{'text': t} for t in texts] + [{'image': image_url(f, i)}
                                                   for i, f in enumerate(files)]
        call = _dashscope.multimodal_embed(contents, model, params,
                                           _dashscope.native_root(url))
        vectors = call(self._clients.api(url))
        self._usage.add(None)
        return vectors[0] if len(vectors) == 1 else vectors

    def forward(self, *args: Any, **kw: Any) -> Any:
        model, url = self._target(kw.pop('model', None), kw.pop('url', None))
        params = {**self._static, **kw}
        if self._type == 'rerank':
            return rerank_call(_Ranked(self, url), model, *args, **params)
        if self._type == 'cross_modal_embed':
            return self._cross_modal(model, url, params, *args)
        return embed_call(_Batched(self, url, self._batch), model, *args, **params)
