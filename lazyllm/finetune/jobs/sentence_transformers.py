"""Finetune an embedding model or a cross-encoder reranker with sentence-transformers.

``python -m lazyllm.finetune.jobs.sentence_transformers <run>/job.json`` (see ``_protocol``).

- ``embed``: ``SentenceTransformer(base)`` trained with ``MultipleNegativesRankingLoss`` on
  (query, positive) pairs, or (query, positive, hard negative) triples when the records have
  negatives (one row per positive, negatives paired with positives in turn); in-batch
  negatives come for free (a no-duplicates batch sampler keeps one query's other positives out
  of its negatives). The output is a full sentence-transformers folder (``modules.json``,
  pooling, normalize), so the embed engine serves it with the pooling it was trained with.
- ``rerank``: ``CrossEncoder(base, num_labels=1)`` (a cross-encoder, or an encoder such as
  MiniLM with a new one-logit head) trained with ``BinaryCrossEntropyLoss`` on (query, pos, 1)
  and (query, neg, 0) pairs; a record without negatives borrows other records' positives.

Options (defaults filled in by lazyllm): ``epochs``, ``learning_rate``, ``batch_size``,
``max_length``, ``warmup_ratio``, ``seed``.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from lazyllm.finetune.jobs._protocol import (
    JobConfig,
    JobError,
    Metrics,
    base_config,
    run_job,
    trainer_callback,
)

__all__ = ['main', 'embed_rows', 'rerank_rows']


def check_records(records: list) -> list:
    if not records:
        raise JobError('the trainset is empty: give at least one {"query", "pos"} record')
    for i, r in enumerate(records):
        if not isinstance(r, dict) or not r.get('query') or not r.get('pos'):
            raise JobError(f'trainset record {i + 1} lacks a query or a positive: '
                           f'expected {{"query": str, "pos": [str, ...], "neg": [...]}}')
    return records


def _borrowed(records: list, i: int, count: int) -> list:
    """Negatives for record ``i`` that has none: the positives of the records after it."""
    n = len(records)
    own = set(records[i]['pos'])
    others = [p for k in range(1, n) for p in records[(i + k) % n]['pos'] if p not in own]
    return others[:max(1, count)]


def embed_rows(records: list) -> dict:
    """Columns for MultipleNegativesRankingLoss: (anchor, positive[, negative])."""
    with_neg = any(r.get('neg') for r in records)
    rows: dict[str, list] = {'anchor': [], 'positive': []}
    if with_neg:
        rows['negative'] = []
    for i, r in enumerate(records):
        negs = list(r.get('neg') or []) or (_borrowed(records, i, 1) if with_neg else [])
        if with_neg and not negs:
            raise JobError('cannot find a negative for a record: every record has the same '
                           'positives')
        for j, pos in enumerate(r['pos']):
            rows['anchor'].append(r['query'])
            rows['positive'].append(pos)
            if with_neg:
                rows['negative'].append(negs[j % len(negs)])
    return rows


def rerank_rows(records: list) -> dict:
    """Columns for BinaryCrossEntropyLoss: (query, document, label 1.0 / 0.0)."""
    rows: dict[str, list] = {'query': [], 'document': [], 'label': []}
    for i, r in enumerate(records):
        negs = list(r.get('neg') or []) or _borrowed(records, i, len(r['pos']))
        for pos in r['pos']:
            rows['query'].append(r['query'])
            rows['document'].append(pos)
            rows['label'].append(1.0)
        for neg in negs:
            rows['query'].append(r['query'])
            rows['document'].append(neg)
            rows['label'].append(0.0)
    if not any(label == 0.0 for label in rows['label']):
        raise JobError('no negatives: give records with "neg" documents, or at least two '
                       'records with different positives')
    return rows


def _args(cls, opts: dict, tmp: str, n_rows: int, **extra):
    batch = max(1, min(int(opts['batch_size']), n_rows))   # fewer rows than a batch: one batch
    warmup = float(opts['warmup_ratio'])
    return cls(output_dir=tmp, num_train_epochs=float(opts['epochs']),
               learning_rate=float(opts['learning_rate']), per_device_train_batch_size=batch,
               warmup_steps=min(max(warmup, 0.0), 0.999),   # a float < 1 is a ratio
               seed=int(opts['seed']), data_seed=int(opts['seed']), logging_steps=1,
               logging_strategy='steps', save_strategy='no', report_to=[], use_cpu=True,
               dataloader_num_workers=0, disable_tqdm=True, **extra)


def _train_embed(cfg: JobConfig, records: list, tmp: str, metrics: Metrics) -> dict:
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    try:
        from sentence_transformers.sentence_transformer.losses import (
            MultipleNegativesRankingLoss,
        )
    except ImportError:   # sentence-transformers < 6
        from sentence_transformers.losses import MultipleNegativesRankingLoss

    opts = cfg.options
    model = SentenceTransformer(cfg.base, device='cpu')
    model.max_seq_length = int(opts['max_length'])
    rows = embed_rows(records)
    args = _args(SentenceTransformerTrainingArguments, opts, tmp, len(rows['anchor']),
                 batch_sampler='no_duplicates')
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=Dataset.from_dict(rows),
        loss=MultipleNegativesRankingLoss(model), callbacks=[trainer_callback(metrics)])
    trainer.train()
    model.save(cfg.output)
    return {'rows': len(rows['anchor']), 'hard_negatives': 'negative' in rows,
            'batch_size': args.per_device_train_batch_size}


def _train_rerank(cfg: JobConfig, records: list, tmp: str, metrics: Metrics) -> dict:
    from datasets import Dataset
    from sentence_transformers.cross_encoder import (
        CrossEncoder,
        CrossEncoderTrainer,
        CrossEncoderTrainingArguments,
    )
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss

    opts = cfg.options
    model = CrossEncoder(cfg.base, num_labels=1, max_length=int(opts['max_length']),
                         device='cpu')
    if model.num_labels != 1:
        raise JobError(f'{cfg.base} is a classifier with {model.num_labels} labels, not a '
                       f'one-logit reranker: start from a reranker or an embedding model')
    rows = rerank_rows(records)
    args = _args(CrossEncoderTrainingArguments, opts, tmp, len(rows['query']))
    trainer = CrossEncoderTrainer(
        model=model, args=args, train_dataset=Dataset.from_dict(rows),
        loss=BinaryCrossEntropyLoss(model), callbacks=[trainer_callback(metrics)])
    trainer.train()
    model.save(cfg.output)
    config = json.loads(Path(cfg.output, 'config.json').read_text(encoding='utf-8'))
    if len(config.get('id2label') or {}) != 1 and config.get('num_labels') != 1:
        raise JobError(f'the saved model in {cfg.output} is not a one-label cross-encoder')
    return {'rows': len(rows['query']), 'batch_size': args.per_device_train_batch_size}


def main(cfg: JobConfig) -> None:
    if cfg.task not in ('embed', 'rerank'):
        raise JobError(f'sentence_transformers trains embed or rerank models, not {cfg.task!r}')
    base_config(cfg.base)
    records = check_records(cfg.records())
    os.environ.setdefault('HF_HUB_OFFLINE', '1')   # a local folder: never ask the hub
    os.environ.setdefault('TOKENIZERS_PARALLELISM', 'false')
    from transformers import set_seed
    set_seed(int(cfg.options['seed']))
    Path(cfg.output).mkdir(parents=True, exist_ok=True)
    metrics = Metrics()
    tmp = tempfile.mkdtemp(prefix='lazyllm-st-', dir=tempfile.gettempdir())
    try:
        train = _train_embed if cfg.task == 'embed' else _train_rerank
        info = train(cfg, records, tmp, metrics)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    metrics.write(cfg.output, method='sentence_transformers', task=cfg.task,
                  records=len(records), **info)


if __name__ == '__main__':
    run_job(main)
