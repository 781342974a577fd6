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

from typing import Any

from ...client.protocols import dashscope, openai
from ...client.protocols.media import image_url
from ...errors import InputError
from .._calls import embed_texts, rerank_args, rerank_pairs
from ._base import OnlineBase

__all__ = ['OnlineEmbeddingModule']


class OnlineEmbeddingModule(OnlineBase):
    """Embeddings (``type='embed'``) or reranking (``type='rerank'``) behind an online API."""

    types = ('embed', 'cross_modal_embed', 'rerank')
    default_type = 'embed'

    def __init__(self, model: str | None = None, source: str | None = None,
                 base_url: str | None = None, *, type: str | None = None,
                 api_key: str | None = None, batch_size: int | None = None,
                 static_params: dict | None = None, timeout: float | None = None,
                 max_retries: int | None = None, name: str | None = None,
                 embed_url: str | None = None, embed_model_name: str | None = None,
                 return_trace: bool = False):
        if embed_url is not None and base_url is not None and embed_url != base_url:
            raise InputError('pass base_url= or embed_url= (the same thing), not both')
        if embed_model_name is not None and model is not None and embed_model_name != model:
            raise InputError('pass model= or embed_model_name= (the same thing), not both')
        super().__init__(model or embed_model_name, source, base_url or embed_url, type=type,
                         api_key=api_key, static_params=static_params, timeout=timeout,
                         max_retries=max_retries, name=name, return_trace=return_trace)
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
        call = dashscope.multimodal_embed(contents, model, params,
                                           dashscope.native_root(url))
        vectors = call(self._clients.api(url))
        self._usage.add(None)
        return vectors[0] if len(vectors) == 1 else vectors

    def forward(self, *args: Any, **kw: Any) -> Any:
        model, url = self._target(kw.pop('model', None), kw.pop('url', None))
        if self._type == 'rerank':
            return self._rerank(model, url, *args, **kw)
        if self._type == 'cross_modal_embed':
            if 'lazyllm_files' in kw:
                args = (args[0] if args else None, kw.pop('lazyllm_files'))
            return self._cross_modal(model, url, {**self._static, **kw}, *args)
        return self._embed(model, url, *args, **kw)

    def _embed(self, model: str | None, url: str, input: Any, **params: Any) -> Any:
        """One vector for a str; for a list, one per text, sent in batches, in order."""
        texts, single = embed_texts(input)
        params = {**self._static, **params}
        client = self._clients.api(url)
        vectors: list = []
        for start in range(0, len(texts), self._batch):
            batch = texts[start:start + self._batch]
            vectors += openai.embed(batch, model, params, self._supplier)(client)
            self._usage.add(None)
        return vectors[0] if single else vectors

    def _rerank(self, model: str | None, url: str, query: Any, documents: Any = None,
                top_n: int | None = None, **params: Any) -> list[tuple[int, float]]:
        """(document index, score) pairs, best first; ``top_n`` of them when given."""
        rerank_args(query, documents, top_n)
        params = {**self._static, **params}
        if self._supplier.protocol('rerank') == 'dashscope':
            call = dashscope.rerank(query, documents, model, top_n, params,
                                     dashscope.native_root(url))
        else:
            call = openai.rerank(query, documents, model, top_n, params, self._supplier)
        pairs = call(self._clients.api(url))
        self._usage.add(None)
        return rerank_pairs(pairs, top_n)
