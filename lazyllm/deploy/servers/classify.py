"""The built-in text-classification engine: ``POST /classify`` (vLLM's shape) on transformers.

Also served at ``/v1/classify`` (SGLang's path for the same shape). Request: ``input``, a
non-empty string or a non-empty list of non-empty strings (token ids are refused); ``model``
and ``user`` are accepted and ignored: one engine, one model. Response::

    {"id": "classify-…", "object": "list", "created": 1745383213, "model": "…",
     "data": [{"index": 0, "label": "POSITIVE", "probs": [0.07, 0.93], "num_classes": 2}],
     "labels": ["NEGATIVE", "POSITIVE"],
     "usage": {"prompt_tokens": 5, "total_tokens": 5, "completion_tokens": 0,
               "prompt_tokens_details": null}}

``data`` is in input order; ``probs[k]`` is the probability of class ``k`` and ``label`` the
name of the most probable one. ``labels`` (our addition; vLLM does not send it) names every
class in ``probs`` order, so a client can build ``{label: probability}`` without reading the
model's config.

Model: ``AutoModelForSequenceClassification(folder)`` with its tokenizer, names from
``config.id2label``. Probabilities are ``softmax(logits)``, or ``sigmoid(logits)`` for a model
whose config says ``problem_type: multi_label_classification`` (classes independent; they do
not sum to 1). A model with one output is a reranker (``lazyllm.deploy.rerank``) and is
refused at load.

Truncation: a text longer than ``--max-length`` tokens (default: the model's own limit) is cut
to it, never silently: ``X-LazyLLM-Truncated-Inputs`` header, ``usage.truncated_inputs`` and a
log line, as in the embedding engine. Concurrent requests are classified together by a
``MicroBatcher``; ``GET /stats`` tells how.
"""
from __future__ import annotations

import argparse
import logging
import os
import time
import uuid
from typing import Any

import torch
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from ._app import check_model, create_app, read_body
from ._batcher import MicroBatcher
from ._fields import check_fields
from ._placement import device_of
from ._requests import texts_of
from ._st_common import (
    add_common_arguments,
    add_stats_route,
    count_tokens,
    respond,
    run_batch,
    token_lengths,
)

log = logging.getLogger('lazyllm.engine')
# the request fields taken (and user, ...: see _fields.INFORMATIONAL); any other is a 400
FIELDS = frozenset({'input', 'model'})
ALIASES = ('/classify', '/v1/classify')
_NO_LIMIT = 100_000     # tokenizers without a known limit say 1e30


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser, 'texts')
    parser.add_argument('--max-length', type=int, default=None,
                        help="tokens read per text; longer texts are truncated (default: the "
                             "model's own limit)")


def build_app(args: argparse.Namespace) -> FastAPI:
    t0 = time.perf_counter()
    classifier = Classifier.load(args)
    log.info('classify engine: loaded %s in %.1fs on %s: %d classes (%s), %s, max length %d',
             args.model, time.perf_counter() - t0, classifier.device, len(classifier.labels),
             ', '.join(classifier.labels), 'sigmoid' if classifier.multi_label else 'softmax',
             classifier.limit)
    batcher = MicroBatcher(classifier, max_batch=args.batch_size,
                           max_wait=args.batch_wait_ms / 1000, name='classify batcher')
    app = create_app(served_name=args.served_model_name, aliases=args.alias, kind='classify',
                     max_model_len=classifier.limit)
    add_stats_route(app, batcher)
    names, n = classifier.labels, len(classifier.labels)

    async def classify(request: Request) -> JSONResponse:
        body = await read_body(request, '{"input": ["some text"]}')
        check_fields(body, FIELDS, '/classify', refused={})
        check_model(app, body)
        texts = texts_of(body, 'classify', empty_ok=False)
        results = await run_batch(batcher, texts)
        data = [{'index': i, 'label': names[max(range(n), key=probs.__getitem__)],
                 'probs': probs, 'num_classes': n} for i, (probs, _) in enumerate(results)]
        tokens, cut = count_tokens([length for _, length in results], classifier.limit)
        usage = {'prompt_tokens': tokens, 'total_tokens': tokens, 'completion_tokens': 0,
                 'prompt_tokens_details': None}
        return respond({'id': f'classify-{uuid.uuid4().hex[:24]}', 'object': 'list',
                        'created': int(time.time()), 'model': args.served_model_name,
                        'data': data, 'labels': list(names), 'usage': usage},
                       cut, len(texts), classifier.limit)

    for path in ALIASES:
        app.post(path)(classify)
    return app


class Classifier:
    """The batch function: texts -> (class probabilities, token count before truncation)."""

    def __init__(self, model: Any, tokenizer: Any, limit: int, device: str):
        self.model, self.tokenizer, self.limit, self.device = model, tokenizer, limit, device
        config = model.config
        id2label = {int(k): str(v) for k, v in (getattr(config, 'id2label', None) or {}).items()}
        self.labels = [id2label.get(i, f'LABEL_{i}') for i in range(config.num_labels)]
        self.multi_label = getattr(config, 'problem_type', None) == 'multi_label_classification'

    @classmethod
    def load(cls, args: argparse.Namespace) -> Classifier:
        if not os.path.isdir(args.model):
            raise FileNotFoundError(f'{args.model} is not a folder: pass the model directory')
        if args.batch_size < 1:
            raise ValueError(f'--batch-size must be >= 1, got {args.batch_size}')
        device = device_of(args.device)
        common = {'local_files_only': True, 'trust_remote_code': args.trust_remote_code}
        dtype = {} if args.dtype == 'auto' else {'dtype': getattr(torch, args.dtype)}
        tokenizer = AutoTokenizer.from_pretrained(args.model, **common)
        model = AutoModelForSequenceClassification.from_pretrained(args.model, **common, **dtype)
        model = model.to(device).eval()
        if model.config.num_labels < 2:
            raise ValueError(f'the classify engine needs a model with two or more labels; this '
                             f'one has {model.config.num_labels} output (a relevance score): '
                             f'serve it with lazyllm.deploy.rerank')
        if tokenizer.pad_token is None and tokenizer.eos_token is not None:
            tokenizer.pad_token = tokenizer.eos_token     # decoder models (GPT-2, Qwen2, …)
        if getattr(model.config, 'pad_token_id', None) is None:
            model.config.pad_token_id = tokenizer.pad_token_id
        return cls(model, tokenizer, _limit(args.max_length, tokenizer, model.config), device)

    def __call__(self, texts: list[str]) -> list[tuple[list[float], int]]:
        lengths = token_lengths(self.tokenizer, texts)
        features = self.tokenizer(texts, padding=True, truncation=True, max_length=self.limit,
                                  return_tensors='pt').to(self.device)
        with torch.inference_mode():
            logits = self.model(**features).logits.float()
        probs = torch.sigmoid(logits) if self.multi_label else torch.softmax(logits, dim=-1)
        return list(zip(probs.cpu().tolist(), lengths))


def _limit(asked: int | None, tokenizer: Any, config: Any) -> int:
    """Tokens read per text: ``--max-length`` when given, else the model's own limit."""
    own = getattr(tokenizer, 'model_max_length', None)
    if not own or own >= _NO_LIMIT:
        own = getattr(config, 'max_position_embeddings', None) or 512
    if asked is None:
        return int(own)
    if asked < 1 or asked > own:
        raise ValueError(f'--max-length must be from 1 to {own} (what the model reads), got '
                         f'{asked}: pass a smaller max_length or leave it unset')
    return asked
