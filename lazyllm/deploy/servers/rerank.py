"""The built-in rerank engine: ``POST /v1/rerank`` (the vLLM / Jina / Cohere shape).

Also served at ``/rerank`` and ``/v2/rerank``, as vLLM does, so clients written for either
find it. Request: ``query`` (non-empty string), ``documents`` (non-empty list of strings or
of ``{"text": ...}`` objects), ``top_n`` (int >= 1, more than the documents is fine),
``return_documents`` (default true, as vLLM and Jina: each result carries
``{"document": {"text": ...}}``). ``model`` is accepted and ignored: one engine, one model.
Response: ``results`` best first, each with ``index`` (position in the request's
``documents``) and ``relevance_score``; ``usage.total_tokens`` counts the tokens read.

Scores: the model is a cross-encoder with one output logit per (query, document) pair, and
``relevance_score`` is ``sigmoid(logit)``, whatever activation the folder's config names.
Why sigmoid: it keeps the ranking of the raw logits, puts every score in (0, 1) so a fixed
threshold means the same thing for every query, and equals what FlagEmbedding's
``compute_score(normalize=True)`` and hosted rerank APIs return. A model with several output
labels is refused at load: which label means "relevant" is not knowable from the folder.

Models: ``sentence_transformers.CrossEncoder(folder)``. For a BAAI bge-reranker folder, when
FlagEmbedding is importable, its ``FlagReranker`` is used instead (fp16 with
``--dtype float16``); that branch is small and import-guarded.

Pairs longer than the model's max length are truncated (the model's declared behaviour),
made visible as in the embedding engine: ``X-LazyLLM-Truncated-Inputs`` header,
``usage.truncated_inputs`` and a log line. Concurrent requests' pairs are scored together by
a ``MicroBatcher``; ``GET /stats`` tells how.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import time
import uuid
from typing import Any, Callable

import numpy as np
import torch
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sentence_transformers import CrossEncoder

from . import _st_common as common  # what the two sentence-transformers engines share
from ._app import ApiError, check_model, create_app, read_body
from ._batcher import MicroBatcher
from ._fields import check_fields

log = logging.getLogger('lazyllm.engine')
# the request fields taken (and user, ...: see _fields.INFORMATIONAL); any other is a 400
FIELDS = frozenset({'query', 'documents', 'top_n', 'return_documents', 'model'})
ALIASES = ('/v1/rerank', '/rerank', '/v2/rerank')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.add_common_arguments(parser, '(query, document) pairs')


def build_app(args: argparse.Namespace) -> FastAPI:
    t0 = time.perf_counter()
    options = common.load_options(args)    # checks the folder first
    scorer = _flag_reranker(args) or _cross_encoder(args, options)
    log.info('rerank engine: loaded %s in %.1fs with %s, max length %d', args.model,
             time.perf_counter() - t0, scorer.backend, scorer.limit)
    batcher = MicroBatcher(scorer, max_batch=args.batch_size,
                           max_wait=args.batch_wait_ms / 1000, name='rerank batcher')
    app = create_app(served_name=args.served_model_name, aliases=args.alias, kind='rerank',
                     max_model_len=scorer.limit)
    common.add_stats_route(app, batcher)

    async def rerank(request: Request) -> JSONResponse:
        body = await read_body(request, '{"query": "…", "documents": ["…", "…"]}')
        check_fields(body, FIELDS, '/v1/rerank', refused={})
        check_model(app, body)
        query, docs, top_n, with_docs = request_of(body)
        scored = await common.run_batch(batcher, [(query, d) for d in docs])
        order = sorted(range(len(docs)), key=lambda i: -scored[i][0])[:top_n]
        results = [{'index': i, 'relevance_score': scored[i][0]} for i in order]
        if with_docs:
            for r in results:
                r['document'] = {'text': docs[r['index']]}
        tokens, cut = common.count_tokens([n for _, n in scored], scorer.limit)
        return common.respond({'id': f'rerank-{uuid.uuid4().hex[:24]}',
                              'model': args.served_model_name, 'results': results,
                              'usage': {'total_tokens': tokens}}, cut, len(docs), scorer.limit)

    for path in ALIASES:
        app.post(path)(rerank)
    return app


class Scorer:
    """The batch function: (query, document) pairs -> (relevance in (0, 1), tokens) each."""

    def __init__(self, score: Callable[[list], Any], tokenizer: Any, limit: int, backend: str):
        self.score, self.tokenizer, self.limit, self.backend = score, tokenizer, limit, backend

    def __call__(self, pairs: list[tuple[str, str]]) -> list[tuple[float, int]]:
        scores = np.atleast_1d(np.asarray(self.score(pairs), dtype=np.float64))
        lengths = common.token_lengths(self.tokenizer, [q for q, _ in pairs],
                                      [d for _, d in pairs])
        return [(float(s), n) for s, n in zip(scores, lengths)]


def _cross_encoder(args: argparse.Namespace, options: dict) -> Scorer:
    model = CrossEncoder(args.model, **options)
    if model.num_labels != 1:
        raise ValueError(f'the rerank engine needs a cross-encoder with one output (a '
                         f'relevance logit); this model has {model.num_labels} labels')
    sigmoid = torch.nn.Sigmoid()
    limit = getattr(model, 'max_seq_length', None) or model.max_length

    def score(pairs: list) -> Any:
        return model.predict(pairs, batch_size=len(pairs), activation_fn=sigmoid,
                             show_progress_bar=False)
    return Scorer(score, model.tokenizer, int(limit), 'sentence-transformers CrossEncoder')


def _flag_reranker(args: argparse.Namespace) -> Scorer | None:
    """FlagEmbedding's reranker for a bge-reranker folder when it is installed (untested
    here: FlagEmbedding is not a test dependency; it picks its own device); None means use
    CrossEncoder."""
    if not _is_bge_reranker(args.model):
        return None
    try:
        from FlagEmbedding import FlagReranker
    except ImportError:
        log.info('a bge reranker without FlagEmbedding installed: using CrossEncoder')
        return None
    model = FlagReranker(args.model, use_fp16=args.dtype == 'float16')

    def score(pairs: list) -> Any:
        return model.compute_score([list(p) for p in pairs], batch_size=len(pairs),
                                   normalize=True)
    return Scorer(score, model.tokenizer, 512, 'FlagEmbedding FlagReranker')


def _is_bge_reranker(folder: str) -> bool:
    names = [os.path.basename(os.path.normpath(folder))]
    try:
        with open(os.path.join(folder, 'config.json'), encoding='utf-8') as f:
            names.append(str(json.load(f).get('_name_or_path', '')))
    except (OSError, ValueError):
        pass
    return any('bge-reranker' in n.lower() for n in names)


def request_of(body: dict) -> tuple[str, list[str], int | None, bool]:
    """(query, document texts, top_n, return_documents), or a 400 that names the field."""
    query = body.get('query')
    if not isinstance(query, str) or not query:
        raise ApiError(400, 'query must be a non-empty string: the question the documents '
                            'are ranked against')
    docs = body.get('documents')
    if not isinstance(docs, list) or not docs:
        raise ApiError(400, 'documents must be a non-empty list of strings (or of '
                            '{"text": ...} objects)')
    texts = []
    for i, d in enumerate(docs):
        text = d.get('text') if isinstance(d, dict) else d
        if not isinstance(text, str):
            raise ApiError(400, f'documents[{i}] must be a string or {{"text": string}}, got '
                                f'{d!r:.60}')
        texts.append(text)
    top_n = body.get('top_n')
    if top_n is not None and (isinstance(top_n, bool) or not isinstance(top_n, int) or
                              top_n < 1):
        raise ApiError(400, f'top_n must be an int >= 1, got {top_n!r}: omit it for all '
                            f'documents')
    with_docs = body.get('return_documents')
    if with_docs is not None and not isinstance(with_docs, bool):
        raise ApiError(400, f'return_documents must be true or false, got {with_docs!r}')
    return query, texts, top_n, with_docs is not False
