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

The helpers at the bottom (options, body reading, batch errors) are shared with ``rerank``.
"""
from __future__ import annotations

import argparse
import base64
import dataclasses
import logging
import os
import time
from typing import Any

import numpy as np
import torch
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sentence_transformers import SentenceTransformer

from ._app import ApiError, create_app
from ._batcher import MicroBatcher

log = logging.getLogger('lazyllm.engine')
TRUNCATED_HEADER = 'X-LazyLLM-Truncated-Inputs'
DTYPES = ('auto', 'float32', 'bfloat16', 'float16')


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
    app = create_app(served_name=args.served_model_name, kind='embed',
                     max_model_len=embedder.limit)
    add_stats_route(app, batcher)

    @app.post('/v1/embeddings')
    async def embeddings(request: Request) -> JSONResponse:
        body = await read_body(request)
        texts = texts_of(body)
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


def texts_of(body: dict) -> list[str]:
    """The ``input`` field as a list of strings, or a 400 that says what to send."""
    if 'input' not in body:
        raise ApiError(400, 'input is required: send a string or a non-empty list of strings')
    value = body['input']
    texts = [value] if isinstance(value, str) else value
    if not isinstance(texts, list) or not texts:
        raise ApiError(400, f'input must be a string or a non-empty list of strings, got '
                            f'{value!r:.60}')
    if all(isinstance(t, int) for t in texts) or all(
            isinstance(t, list) and all(isinstance(x, int) for x in t) for t in texts):
        raise ApiError(400, 'input holds token ids: this engine embeds text only, send the '
                            'strings themselves')
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise ApiError(400, f'input[{i}] must be a string, got {type(text).__name__}: '
                                f'convert it to text first')
    return texts


# -- shared with the rerank engine ------------------------------------------------------------
def add_common_arguments(parser: argparse.ArgumentParser, items: str) -> None:
    parser.add_argument('--device', default='cpu', help='cpu, cuda, cuda:1, … or auto')
    parser.add_argument('--dtype', choices=DTYPES, default='auto',
                        help='weights precision (auto: float32, as sentence-transformers)')
    parser.add_argument('--batch-size', type=int, default=32,
                        help=f'most {items} computed together (micro-batching)')
    parser.add_argument('--batch-wait-ms', type=float, default=5.0,
                        help='how long a batch waits for more requests after its first')
    parser.add_argument('--trust-remote-code', action='store_true',
                        help="run the model folder's own code (off by default)")


def load_options(args: argparse.Namespace) -> dict:
    """Keyword arguments for SentenceTransformer / CrossEncoder (after the folder) from the
    engine options. Loading is local only: an engine never downloads."""
    if not os.path.isdir(args.model):
        raise FileNotFoundError(f'{args.model} is not a folder: pass the model directory')
    if args.batch_size < 1:
        raise ValueError(f'--batch-size must be >= 1, got {args.batch_size}')
    device = ('cuda' if torch.cuda.is_available() else 'cpu') if args.device == 'auto' \
        else args.device
    model_kwargs = {} if args.dtype == 'auto' else {'dtype': getattr(torch, args.dtype)}
    if not os.path.exists(os.path.join(args.model, 'modules.json')):
        log.info('%s has no modules.json (not a sentence-transformers folder): using the '
                 'transformers model with mean pooling', args.model)
    return {'device': device, 'local_files_only': True, 'model_kwargs': model_kwargs,
            'trust_remote_code': args.trust_remote_code}


def token_lengths(tokenizer: Any, texts: Any, pairs: Any = None) -> list[int]:
    """Tokens of each input (or text pair) with special tokens, before any truncation."""
    ids = tokenizer(texts, pairs, add_special_tokens=True, truncation=False,
                    verbose=False)['input_ids']
    return [len(x) for x in ids]


def count_tokens(lengths: list[int], limit: int) -> tuple[int, int]:
    """(tokens the model read, inputs that were cut to ``limit``)."""
    return sum(min(n, limit) for n in lengths), sum(n > limit for n in lengths)


def respond(content: dict, cut: int, total: int, limit: int) -> JSONResponse:
    """The JSON answer, with truncation made visible in a header, ``usage`` and the log."""
    if cut:
        content['usage']['truncated_inputs'] = cut
        log.warning('%d of %d inputs were longer than the model\'s max_seq_length of %d tokens '
                    'and were truncated to it', cut, total, limit)
    return JSONResponse(content, headers={TRUNCATED_HEADER: str(cut)})


async def read_body(request: Request) -> dict:
    try:
        body = await request.json()
    except ValueError:
        raise ApiError(400, 'the request body is not valid JSON') from None
    if not isinstance(body, dict):
        raise ApiError(400, 'the request body must be a JSON object')
    return body


async def run_batch(batcher: MicroBatcher, items: list) -> list:
    """Results of ``items``; a failure of the model becomes a 500 that names it."""
    try:
        return await batcher.run(items)
    except Exception as e:  # noqa: BLE001 - the model's error, reported to the caller
        raise ApiError(500, f'the model failed on this batch: {type(e).__name__}: {e}',
                       'server_error') from e


def add_stats_route(app: FastAPI, batcher: MicroBatcher) -> None:
    @app.get('/stats')
    async def stats() -> dict:
        return dataclasses.asdict(batcher.stats)
