"""The embedding and reranker finetune jobs, run as lazyllm runs them: a subprocess on a run
folder (job.json, trainset.jsonl, output/), real models, real training, no mocks.

The artificial retrieval task of tests/support/retrieval_task.py (invented words for real
things) is one where a base model ranks the held-out documents about at random and a
finetuned one ranks them well, so "training helped" is measured, not assumed.
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from lazyllm.finetune import methods
from lazyllm.finetune.jobs._protocol import JobConfig, parse_error, parse_progress
from tests.support.retrieval_task import (
    RECOMMENDED_EMBED_OPTIONS,
    RECOMMENDED_RERANK_OPTIONS,
    mean_rank,
    recall_at_1,
    rerank_mean_rank,
    rerank_recall_at_1,
    retrieval_task,
)

TIMEOUT = 600


def _need(*modules):
    for module in modules:
        pytest.importorskip(module, reason=f'{module} is not installed (the finetune jobs '
                                           f'need it)')


@pytest.fixture(scope='module')
def task():
    return retrieval_task()


def run_job(tmp_path: Path, method: str, task: str, base, records, **options):
    """Run ``python -m lazyllm.finetune.jobs.<method>`` on a fresh run folder; returns
    (completed process, output folder, progress data list)."""
    run = tmp_path / f'{method}-{task}'
    run.mkdir()
    trainset = run / 'trainset.jsonl'
    trainset.write_text(''.join(json.dumps(r) + '\n' for r in records), encoding='utf-8')
    output = run / 'output'
    output.mkdir()
    job = run / 'job.json'
    JobConfig(task=task, base=str(base), trainset=str(trainset), output=str(output),
              options=methods[method].validate(options)).save(job)
    proc = subprocess.run([sys.executable, '-m', f'lazyllm.finetune.jobs.{method}', str(job)],
                          capture_output=True, text=True, timeout=TIMEOUT)
    progress = [p for p in map(parse_progress, proc.stdout.splitlines()) if p]
    return proc, output, progress


def _check_ok(proc, output: Path, progress: list) -> dict:
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-5000:])
    assert progress, proc.stdout[-2000:]
    steps = [p['step'] for p in progress]
    assert steps == sorted(steps) and steps[0] >= 1 and steps[-1] == progress[-1]['total']
    assert all(isinstance(p['loss'], float) for p in progress)
    metrics = json.loads((output / 'metrics.json').read_text())
    assert metrics['losses'] and metrics['final_loss'] == metrics['losses'][-1]
    assert metrics['steps'] == len(progress)
    return metrics


def _embed_scores(path, task):
    from sentence_transformers import SentenceTransformer
    model = SentenceTransformer(str(path), device='cpu')
    q = model.encode(task.test_queries).tolist()
    d = model.encode(task.test_docs).tolist()
    return mean_rank(q, d, task.test_answers), recall_at_1(q, d, task.test_answers), model


def _rerank_scores(path, task):
    from sentence_transformers import CrossEncoder
    model = CrossEncoder(str(path), device='cpu')
    assert model.num_labels == 1
    score = lambda q, docs: model.predict([(q, d) for d in docs], show_progress_bar=False)
    return rerank_mean_rank(score, task), rerank_recall_at_1(score, task)


@pytest.fixture(scope='module')
def base_rerank(reranker_path, task):
    _need('sentence_transformers')
    return _rerank_scores(reranker_path, task)


def _pooling(model) -> str:
    pool = next(m for m in model if type(m).__name__ == 'Pooling')
    return pool.get_config_dict().get('pooling_mode') or next(
        k for k, v in pool.get_config_dict().items() if k.startswith('pooling_mode') and v)


@pytest.fixture(scope='module')
def base_embed(minilm_path, task):
    _need('sentence_transformers')
    rank, r1, model = _embed_scores(minilm_path, task)
    return rank, r1, _pooling(model)


def test_sentence_transformers_rerank_new_head_on_embedding_model(tmp_path, minilm_path, task):
    _need('sentence_transformers', 'datasets', 'accelerate')
    from lazyllm.hub import ModelType, infer_type
    records = [dict(r, neg=[]) for r in task.train[:8]]   # no negatives: borrowed positives
    proc, output, progress = run_job(tmp_path, 'sentence_transformers', 'rerank', minilm_path,
                                     records, epochs=1, batch_size=8)
    metrics = _check_ok(proc, output, progress)
    assert metrics['rows'] == 16
    assert infer_type(output) == ModelType.RERANK
    from sentence_transformers import CrossEncoder
    model = CrossEncoder(str(output), device='cpu')   # a one-label CrossEncoder that scores
    assert model.num_labels == 1
    assert len(model.predict([(task.test_queries[0], task.test_docs[0])])) == 1


def test_flagembedding_embed_keeps_pooling_and_beats_base(tmp_path, minilm_path, task,
                                                          base_embed):
    _need('sentence_transformers', 'FlagEmbedding', 'datasets')
    from lazyllm.hub import ModelType, infer_type
    proc, output, progress = run_job(tmp_path, 'flagembedding', 'embed', minilm_path,
                                     task.train, **RECOMMENDED_EMBED_OPTIONS['flagembedding'])
    metrics = _check_ok(proc, output, progress)
    assert metrics['final_loss'] < metrics['first_loss']
    assert metrics['pooling'] == 'mean' and metrics['normalize'] is True   # auto, from MiniLM
    for name in ('modules.json', 'config_sentence_transformers.json',
                 'sentence_bert_config.json', '1_Pooling/config.json'):
        assert (output / name).is_file(), name
    assert infer_type(output) == ModelType.EMBED
    rank, r1, model = _embed_scores(output, task)
    base_rank, base_r1, base_pool = base_embed
    print(f'flagembedding embed: mean rank {base_rank:.2f} -> {rank:.2f}, '
          f'recall@1 {base_r1:.2f} -> {r1:.2f}, {metrics["seconds"]}s')
    assert _pooling(model) == base_pool == 'mean'
    assert any(type(m).__name__ == 'Normalize' for m in model)
    assert rank < base_rank - 2 and r1 > base_r1


def test_flagembedding_rerank_from_reranker(tmp_path, reranker_path, task):
    _need('sentence_transformers', 'FlagEmbedding', 'datasets')
    from lazyllm.hub import ModelType, infer_type
    # one epoch: this checks the mechanics (FlagEmbedding's listwise loss barely moves the
    # tiny cross-encoder on this task; RECOMMENDED_RERANK_OPTIONS gives mean rank 7.4 -> 5.8)
    options = {**RECOMMENDED_RERANK_OPTIONS['flagembedding'], 'epochs': 1}
    proc, output, progress = run_job(tmp_path, 'flagembedding', 'rerank', reranker_path,
                                     task.train, **options)
    metrics = _check_ok(proc, output, progress)
    assert infer_type(output) == ModelType.RERANK
    assert not (output / 'training_args.bin').exists()
    from sentence_transformers import CrossEncoder
    model = CrossEncoder(str(output), device='cpu')
    assert model.num_labels == 1
    scores = model.predict([(task.test_queries[0], d) for d in task.test_docs[:2]])
    assert len(scores) == 2
    print(f'flagembedding rerank: loss {metrics["first_loss"]:.3f} -> '
          f'{metrics["final_loss"]:.3f}, {metrics["seconds"]}s')


@pytest.mark.parametrize('method', ['sentence_transformers', 'flagembedding'])
def test_missing_base_fails_with_reason(tmp_path, task, method):
    missing = tmp_path / 'no-such-model'
    proc, output, progress = run_job(tmp_path, method, 'embed', missing, task.train[:4])
    assert proc.returncode != 0
    reason = parse_error(proc.stdout)
    assert reason and '\n' not in reason and str(missing) in reason, proc.stdout
    assert not progress and not list(output.iterdir())


def test_flagembedding_refuses_a_decoder_model(tmp_path, tiny_llm_path, task):
    proc, _, _ = run_job(tmp_path, 'flagembedding', 'embed', tiny_llm_path, task.train[:4])
    assert proc.returncode != 0
    reason = parse_error(proc.stdout)
    assert 'encoder' in reason and str(tiny_llm_path) in reason, proc.stdout
