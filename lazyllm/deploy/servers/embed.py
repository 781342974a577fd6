"""The built-in embedding engine: ``POST /v1/embeddings`` (OpenAI's shape) on sentence-transformers.

Why sentence-transformers: a model folder declares how its sentence vector is made
(``modules.json``: Transformer → Pooling with ``1_Pooling/config.json`` → Normalize), and
``SentenceTransformer(folder)`` applies exactly that. Guessing the pooling is how LazyLLM
ends up embedding all-MiniLM-L6-v2 with the wrong one. A plain transformers folder (no
``modules.json``) gets mean pooling, and the engine logs that it did.

Request: ``input`` (a string or a non-empty list of strings; token-id lists are refused),
``encoding_format`` ``"float"`` (default) or ``"base64"`` (little-endian float32, as OpenAI),
``dimensions`` (keep the first N values, renormalised when the model's vectors are unit
vectors: Matryoshka-style shortening; more than the model has is a 400). ``model`` and
``user`` are accepted and ignored: one engine serves one model.

Truncation: an input longer than the model's ``max_seq_length`` is cut to it, which is the
model's own declared behaviour (it was trained that way), so the engine does it, but never
silently: the response says how many inputs were cut in the ``X-LazyLLM-Truncated-Inputs``
header (always present) and in ``usage.truncated_inputs`` (when not 0), and the engine logs
it. ``usage.prompt_tokens`` counts the tokens the model actually read.

Concurrent requests are encoded together by a ``MicroBatcher``; ``GET /stats`` tells how
(``batches`` < ``requests`` means batching happened).

Options, loading, token counting and truncation reporting are shared with ``rerank`` in
``_st_common``.
"""
from __future__ import annotations

import argparse
import base64
import logging
import time
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sentence_transformers import SentenceTransformer

from ._app import ApiError, check_model, create_app, read_body
from ._batcher import MicroBatcher
from ._fields import check_fields
from ._requests import texts_of
from ._st_common import (
    add_common_arguments,
    add_stats_route,
    count_tokens,
    load_options,
    respond,
    run_batch,
    token_lengths,
)

log = logging.getLogger('lazyllm.engine')
# the request fields taken (and user, ...: see _fields.INFORMATIONAL); any other is a 400
FIELDS = frozenset({'input', 'model', 'encoding_format', 'dimensions'})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser, 'texts')
    parser.add_argument('--normalize', choices=('auto', 'true', 'false'), default='auto',
                        help='auto: as the model folder declares (a Normalize module); '
                             'true/false: force unit vectors on or off')


def build_app(args: argparse.Namespace) -> FastAPI:
    t0 = time.perf_counter()
    model = SentenceTransformer(args.model, **load_options(args))
    embedder = Embedder(model, args.normalize)
    log.info('embed engine: loaded %s in %.1fs on %s: %s, dimension %d, max_seq_length %d',
             args.model, time.perf_counter() - t0, model.device, embedder.describe(),
             embedder.dim, embedder.limit)
    batcher = MicroBatcher(embedder, max_batch=args.batch_size,
                           max_wait=args.batch_wait_ms / 1000, name='embed batcher')
    app = create_app(served_name=args.served_model_name, aliases=args.alias, kind='embed',
                     max_model_len=embedder.limit)
    add_stats_route(app, batcher)

    @app.post('/v1/embeddings')
    async def embeddings(request: Request) -> JSONResponse:
        body = await read_body(request, '{"input": ["some text"]}')
        check_fields(body, FIELDS, '/v1/embeddings', refused={})
        check_model(app, body)
        texts = texts_of(body, 'embed', empty_ok=True)
        fmt = body.get('encoding_format') or 'float'
        if fmt not in ('float', 'base64'):
            raise ApiError(400, f'encoding_format must be "float" or "base64", got {fmt!r}')
        dims = embedder.dimensions_of(body)
        results = await run_batch(batcher, texts)
        data = [{'object': 'embedding', 'index': i, 'embedding': embedder.output(v, dims, fmt)}
                for i, (v, _) in enumerate(results)]
        tokens, cut = count_tokens([n for _, n in results], embedder.limit)
        usage = {'prompt_tokens': tokens, 'total_tokens': tokens}
        return respond({'object': 'list', 'data': data, 'model': args.served_model_name,
                        'usage': usage}, cut, len(texts), embedder.limit)

    return app


class Embedder:
    """The batch function: texts -> (vector, token count before truncation) per text."""

    def __init__(self, model: Any, normalize: str):
        self.model = model
        self.limit = int(model.max_seq_length)
        modules = list(model)
        declared = any(type(m).__name__ == 'Normalize' for m in modules)
        if normalize == 'false' and declared:   # drop the module: raw pooled vectors
            for i in reversed(range(len(modules))):
                if type(modules[i]).__name__ == 'Normalize':
                    del model[i]
        self.force = normalize == 'true'
        self.normalized = self.force or (declared and normalize == 'auto')
        dim = getattr(model, 'get_embedding_dimension', None) or \
            model.get_sentence_embedding_dimension
        self.dim = int(dim())

    def describe(self) -> str:
        parts = []
        for m in self.model:
            mode = m.get_config_dict().get('pooling_mode') if type(m).__name__ == 'Pooling' \
                else None
            parts.append(type(m).__name__ + (f'({mode})' if mode else ''))
        return ' -> '.join(parts) + (' (normalised)' if self.normalized else ' (not normalised)')

    def __call__(self, texts: list[str]) -> list[tuple[np.ndarray, int]]:
        vectors = self.model.encode(texts, batch_size=len(texts), convert_to_numpy=True,
                                    normalize_embeddings=self.force, show_progress_bar=False)
        return list(zip(vectors, token_lengths(self.model.tokenizer, texts)))

    def dimensions_of(self, body: dict) -> int | None:
        dims = body.get('dimensions')
        if dims is None:
            return None
        if isinstance(dims, bool) or not isinstance(dims, int) or not 1 <= dims <= self.dim:
            raise ApiError(400, f'dimensions must be an int from 1 to {self.dim} (the model\'s '
                                f'dimension), got {dims!r}: omit it for full vectors')
        return dims

    def output(self, vector: np.ndarray, dims: int | None, fmt: str) -> list[float] | str:
        vector = np.asarray(vector, dtype=np.float32)
        if dims is not None and dims < self.dim:
            vector = vector[:dims]
            norm = float(np.linalg.norm(vector))
            if self.normalized and norm > 0:
                vector = vector / norm
        if fmt == 'base64':
            return base64.b64encode(vector.astype('<f4').tobytes()).decode('ascii')
        return vector.tolist()
