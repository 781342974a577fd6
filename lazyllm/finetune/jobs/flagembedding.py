"""Finetune an encoder embedding model or reranker with FlagEmbedding's own runners.

``python -m lazyllm.finetune.jobs.flagembedding <run>/job.json`` (see ``_protocol``).

FlagEmbedding's encoder-only runners (``FlagEmbedding.finetune.embedder.encoder_only.base``,
``FlagEmbedding.finetune.reranker.encoder_only.base``) run in this process, on the CPU, with no
torchrun: the records are written to the JSON-lines file FlagEmbedding reads (query, pos, neg;
records with fewer than ``train_group_size - 1`` negatives get other records' positives), the
runner builds its model, dataset and trainer, our progress callback joins the trainer, and the
trained model is saved into ``cfg.output``.

- ``embed``: contrastive loss over in-batch and hard negatives (``temperature``), with the
  ``pooling`` and ``normalize`` the model is trained with (``None``: as the base's
  sentence-transformers folder declares, else ``cls`` / no normalization). The output is a
  sentence-transformers folder (``modules.json``, ``1_Pooling``, ``2_Normalize`` when
  normalized) with exactly that pooling, so the embed engine encodes as the model was trained.
- ``rerank``: a one-logit sequence-classification model (a new head for an embedding base)
  trained with a listwise cross-entropy over groups of one positive and
  ``train_group_size - 1`` negatives. The output is a plain sequence-classification folder.

Options (defaults filled in by lazyllm): ``epochs``, ``learning_rate``, ``batch_size``,
``query_max_len``, ``passage_max_len``, ``train_group_size``, ``temperature``, ``pooling``,
``normalize``, ``seed``.
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

__all__ = ['main', 'flag_records', 'base_pooling', 'base_normalize', 'write_st_metadata']

POOLINGS = ('cls', 'mean', 'last_token')
_ST_POOLING = {'cls': 'pooling_mode_cls_token', 'mean': 'pooling_mode_mean_tokens',
               'last_token': 'pooling_mode_lasttoken'}
_ST_FILES = ('modules.json', 'config_sentence_transformers.json', 'sentence_bert_config.json')
_ST_DIRS = ('1_Pooling', '2_Normalize')
_DECODER_HINTS = ('ForCausalLM', 'LMHeadModel', 'ForConditionalGeneration')


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding='utf-8'))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def check_base(base: str) -> dict:
    """The base's config, refusing decoder models (FlagEmbedding's encoder-only trainers)."""
    config = base_config(base)
    archs = ' '.join(config.get('architectures') or [])
    if config.get('is_decoder') or any(h in archs for h in _DECODER_HINTS):
        raise JobError(f'flagembedding trains encoder models (BERT, XLM-RoBERTa, ...) and '
                       f'{base} is {archs or config.get("model_type")}, a decoder/generative '
                       f'model: start from an encoder embedding model or reranker')
    return config


def base_pooling(base: str) -> str:
    """The pooling the base's sentence-transformers folder declares; ``cls`` without one."""
    folder = Path(base)
    path = folder / '1_Pooling' / 'config.json'
    for module in _read_json_list(folder / 'modules.json'):
        if module.get('type', '').endswith('Pooling') and module.get('path'):
            path = folder / module['path'] / 'config.json'
    pooling = _read_json(path)
    if not pooling:
        return 'cls'
    if pooling.get('pooling_mode'):    # newer sentence-transformers write one key
        mode = str(pooling['pooling_mode']).replace('lasttoken', 'last_token')
        if mode in POOLINGS:
            return mode
    for name, key in _ST_POOLING.items():
        if pooling.get(key):
            return name
    used = sorted(k for k, v in pooling.items() if k.startswith('pooling_mode') and v)
    raise JobError(f'the base {base} pools by {used}, which FlagEmbedding cannot train: '
                   f'set the option pooling to one of {", ".join(POOLINGS)}')


def _read_json_list(path: Path) -> list:
    try:
        data = json.loads(path.read_text(encoding='utf-8'))
    except (OSError, ValueError):
        return []
    return [m for m in data if isinstance(m, dict)] if isinstance(data, list) else []


def base_normalize(base: str) -> bool:
    """True when the base's modules.json has a Normalize module."""
    return any(m.get('type', '').endswith('Normalize')
               for m in _read_json_list(Path(base) / 'modules.json'))


def flag_records(records: list, group_size: int) -> list:
    """Records as FlagEmbedding reads them, each with at least ``group_size - 1`` negatives
    (other records' positives fill in for missing ones)."""
    need = max(0, group_size - 1)
    out = []
    n = len(records)
    for i, r in enumerate(records):
        if not isinstance(r, dict) or not r.get('query') or not r.get('pos'):
            raise JobError(f'trainset record {i + 1} lacks a query or a positive: '
                           f'expected {{"query": str, "pos": [str, ...], "neg": [...]}}')
        pos = [str(p) for p in r['pos']]
        neg = [str(x) for x in (r.get('neg') or [])]
        if len(neg) < need:
            own = set(pos) | set(neg)
            for k in range(1, n):
                for p in records[(i + k) % n]['pos']:
                    if len(neg) >= need:
                        break
                    if p not in own:
                        neg.append(str(p))
                        own.add(p)
        if need and not neg:
            raise JobError('no negatives: give records with "neg" documents, or at least two '
                           'records with different positives')
        out.append({'query': str(r['query']), 'pos': pos, 'neg': neg})
    return out


def write_st_metadata(base: str, output: str, pooling: str, normalize: bool, dim: int,
                      max_len: int) -> None:
    """Make ``output`` a sentence-transformers folder that pools and normalizes as trained:
    the base's metadata when it has some, with the pooling/normalize modules set to match."""
    src, dst = Path(base), Path(output)
    for name in _ST_FILES:
        if (src / name).is_file():
            shutil.copy2(src / name, dst / name)
    for name in _ST_DIRS:
        if (src / name).is_dir():
            shutil.copytree(src / name, dst / name, dirs_exist_ok=True)
    modules = _read_json_list(dst / 'modules.json')
    transformer = next((m for m in modules if m.get('type', '').endswith('Transformer')),
                       {'idx': 0, 'name': '0', 'path': '',
                        'type': 'sentence_transformers.models.Transformer'})
    pool = next((m for m in modules if m.get('type', '').endswith('Pooling')),
                {'name': '1', 'path': '1_Pooling', 'type': 'sentence_transformers.models.Pooling'})
    norm = next((m for m in modules if m.get('type', '').endswith('Normalize')),
                {'name': '2', 'path': '2_Normalize',
                 'type': 'sentence_transformers.models.Normalize'})
    if transformer.get('path'):
        raise JobError(f'the base {base} keeps its transformer in {transformer["path"]!r}, '
                       f'not at the top of the folder: not supported')
    chain: list[dict] = [transformer, pool] + ([norm] if normalize else [])
    for i, m in enumerate(chain):
        m['idx'] = i
    (dst / 'modules.json').write_text(json.dumps(chain, indent=2), encoding='utf-8')
    pool_dir = dst / pool['path']
    pool_dir.mkdir(parents=True, exist_ok=True)
    old = _read_json(pool_dir / 'config.json')
    config = {'word_embedding_dimension': dim, 'pooling_mode_cls_token': False,
              'pooling_mode_mean_tokens': False, 'pooling_mode_max_tokens': False,
              'pooling_mode_mean_sqrt_len_tokens': False,
              'pooling_mode_weightedmean_tokens': False, 'pooling_mode_lasttoken': False,
              'include_prompt': old.get('include_prompt', True)}
    config[_ST_POOLING[pooling]] = True
    (pool_dir / 'config.json').write_text(json.dumps(config, indent=2), encoding='utf-8')
    if normalize:
        (dst / norm['path']).mkdir(parents=True, exist_ok=True)
    elif norm.get('path') and (dst / norm['path']).is_dir():
        shutil.rmtree(dst / norm['path'])
    if not (dst / 'sentence_bert_config.json').is_file():
        (dst / 'sentence_bert_config.json').write_text(
            json.dumps({'max_seq_length': max_len, 'do_lower_case': False}, indent=2),
            encoding='utf-8')


def _training_args(cls, opts: dict, tmp: str, batch: int, **extra):
    return cls(output_dir=str(Path(tmp, 'trainer')), num_train_epochs=float(opts['epochs']),
               learning_rate=float(opts['learning_rate']), per_device_train_batch_size=batch,
               seed=int(opts['seed']), data_seed=int(opts['seed']), logging_steps=1,
               logging_strategy='steps', save_strategy='no', report_to=[], use_cpu=True,
               fp16=False, bf16=False, dataloader_num_workers=0, disable_tqdm=True, **extra)


def _lengths(opts: dict, config: dict, pair: bool) -> tuple[int, int]:
    """query/passage lengths that fit the model's positions (a pair shares them)."""
    q, p = int(opts['query_max_len']), int(opts['passage_max_len'])
    limit = int(config.get('max_position_embeddings') or 512)
    if config.get('model_type') in ('roberta', 'xlm-roberta', 'camembert'):
        limit -= 2   # their positions start after the padding index
    q = min(q, limit)
    return (q, min(p, max(1, limit - q))) if pair else (q, min(p, limit))


def _train_embed(cfg: JobConfig, config: dict, data: str, tmp: str, batch: int,
                 metrics: Metrics) -> dict:
    from FlagEmbedding.finetune.embedder.encoder_only.base import (
        EncoderOnlyEmbedderDataArguments,
        EncoderOnlyEmbedderModelArguments,
        EncoderOnlyEmbedderRunner,
        EncoderOnlyEmbedderTrainingArguments,
    )
    opts = cfg.options
    pooling = opts.get('pooling') or base_pooling(cfg.base)
    if pooling not in POOLINGS:
        raise JobError(f'pooling {pooling!r} is not one of {", ".join(POOLINGS)}')
    normalize = opts.get('normalize')
    normalize = base_normalize(cfg.base) if normalize is None else bool(normalize)
    q_len, p_len = _lengths(opts, config, pair=False)
    runner = EncoderOnlyEmbedderRunner(
        model_args=EncoderOnlyEmbedderModelArguments(model_name_or_path=cfg.base,
                                                     token=None),
        data_args=EncoderOnlyEmbedderDataArguments(
            train_data=[data], cache_path=str(Path(tmp, 'cache')),
            train_group_size=int(opts['train_group_size']), query_max_len=q_len,
            passage_max_len=p_len),
        training_args=_training_args(
            EncoderOnlyEmbedderTrainingArguments, opts, tmp, batch,
            temperature=float(opts['temperature']), sentence_pooling_method=pooling,
            normalize_embeddings=normalize))
    _train(runner, metrics)
    runner.model.save(cfg.output)               # the encoder (AutoModel) weights and config
    runner.tokenizer.save_pretrained(cfg.output)
    write_st_metadata(cfg.base, cfg.output, pooling, normalize,
                      dim=int(config.get('hidden_size') or config.get('d_model') or 0),
                      max_len=p_len)
    return {'pooling': pooling, 'normalize': normalize}


def _train_rerank(cfg: JobConfig, config: dict, data: str, tmp: str, batch: int,
                  metrics: Metrics) -> dict:
    from FlagEmbedding.abc.finetune.reranker import (
        AbsRerankerDataArguments,
        AbsRerankerModelArguments,
        AbsRerankerTrainingArguments,
    )
    from FlagEmbedding.finetune.reranker.encoder_only.base import EncoderOnlyRerankerRunner
    opts = cfg.options
    q_len, p_len = _lengths(opts, config, pair=True)
    runner = EncoderOnlyRerankerRunner(
        model_args=AbsRerankerModelArguments(model_name_or_path=cfg.base, token=None),
        data_args=AbsRerankerDataArguments(
            train_data=[data], cache_path=str(Path(tmp, 'cache')),
            train_group_size=int(opts['train_group_size']), query_max_len=q_len,
            passage_max_len=p_len, max_len=q_len + p_len),
        # the model reshapes logits by the batch size: a short last batch would not fit
        training_args=_training_args(AbsRerankerTrainingArguments, opts, tmp, batch,
                                     dataloader_drop_last=True))
    _train(runner, metrics)
    model = runner.model.model                  # the AutoModelForSequenceClassification
    model.config.num_labels = 1
    model.save_pretrained(cfg.output)
    runner.tokenizer.save_pretrained(cfg.output)
    saved = _read_json(Path(cfg.output, 'config.json'))
    if 'ForSequenceClassification' not in ' '.join(saved.get('architectures') or []):
        raise JobError(f'the saved reranker in {cfg.output} is not a sequence-classification '
                       f'model: {saved.get("architectures")}')
    return {}


def _train(runner, metrics: Metrics) -> None:
    runner.trainer.add_callback(trainer_callback(metrics))
    runner.trainer.train()


def main(cfg: JobConfig) -> None:
    if cfg.task not in ('embed', 'rerank'):
        raise JobError(f'flagembedding trains embed or rerank models, not {cfg.task!r}')
    config = check_base(cfg.base)
    opts = cfg.options
    group = int(opts['train_group_size'])
    if group < 1 or (cfg.task == 'rerank' and group < 2):
        raise JobError(f'train_group_size {group} is too small: a group is one positive and '
                       f'train_group_size - 1 negatives (use 2 or more)')
    records = cfg.records()
    if not records:
        raise JobError('the trainset is empty: give at least one {"query", "pos"} record')
    records = flag_records(records, group)
    batch = max(1, min(int(opts['batch_size']), len(records)))
    os.environ.setdefault('HF_HUB_OFFLINE', '1')   # a local folder: never ask the hub
    os.environ.setdefault('TOKENIZERS_PARALLELISM', 'false')
    Path(cfg.output).mkdir(parents=True, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix='lazyllm-flag-', dir=tempfile.gettempdir())
    os.environ['HF_DATASETS_CACHE'] = str(Path(tmp, 'cache'))   # datasets writes nowhere else
    import random

    from transformers import set_seed
    random.seed(int(opts['seed']))    # FlagEmbedding samples positives/negatives with `random`
    set_seed(int(opts['seed']))
    metrics = Metrics()
    try:
        data = Path(tmp, 'train.jsonl')
        data.write_text(''.join(json.dumps(r, ensure_ascii=False) + '\n' for r in records),
                        encoding='utf-8')
        train = _train_embed if cfg.task == 'embed' else _train_rerank
        info = train(cfg, config, str(data), tmp, batch, metrics)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    metrics.write(cfg.output, method='flagembedding', task=cfg.task, records=len(records),
                  batch_size=batch, train_group_size=group, **info)


if __name__ == '__main__':
    run_job(main)
