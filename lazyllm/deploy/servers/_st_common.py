"""What the two sentence-transformers engines (embed, rerank) share: options, loading,
token counting, visible truncation, batch errors and the /stats route (with the batch-size
metric of /metrics)."""
from __future__ import annotations

import argparse
import dataclasses
import logging
import os
from typing import Any

import torch
from fastapi import FastAPI

from ._app import ApiError, FastJSONResponse
from ._batcher import MicroBatcher
from ._placement import DTYPES, device_of

log = logging.getLogger('lazyllm.engine')
TRUNCATED_HEADER = 'X-LazyLLM-Truncated-Inputs'


def add_common_arguments(parser: argparse.ArgumentParser, items: str) -> None:
    parser.add_argument('--device', default='cpu', help='cpu, cuda, cuda:1, … or auto')
    parser.add_argument('--dtype', choices=DTYPES, default='auto',
                        help='weights precision (auto: float32, as sentence-transformers)')
    parser.add_argument('--batch-size', type=int, default=32,
                        help=f'most {items} computed together (micro-batching)')
    parser.add_argument('--batch-wait-ms', type=float, default=2.0,
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
    device = device_of(args.device)
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


def respond(content: dict, cut: int, total: int, limit: int) -> FastJSONResponse:
    """The JSON answer, with truncation made visible in a header, ``usage`` and the log."""
    if cut:
        content['usage']['truncated_inputs'] = cut
        log.warning('%d of %d inputs were longer than the model\'s max_seq_length of %d tokens '
                    'and were truncated to it', cut, total, limit)
    return FastJSONResponse(content, headers={TRUNCATED_HEADER: str(cut)})


async def run_batch(batcher: MicroBatcher, items: list) -> list:
    """Results of ``items``; a failure of the model becomes a 500 that names it."""
    try:
        return await batcher.run(items)
    except Exception as e:  # noqa: BLE001 - the model's error, reported to the caller
        raise ApiError(500, f'the model failed on this batch: {type(e).__name__}: {e}',
                       'server_error') from e


def add_stats_route(app: FastAPI, batcher: MicroBatcher) -> None:
    batcher.on_batch = app.state.metrics.batch_size.observe

    @app.get('/stats')
    async def stats() -> dict:
        return dataclasses.asdict(batcher.stats)
