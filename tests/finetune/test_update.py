"""TrainableModule.update(): check, train through a launcher, then serve the new weights."""
from __future__ import annotations

import json
import sys

import pytest

import lazyllm
from lazyllm.errors import FinetuneError, InputError

PAIRS = [{'query': f'question {i}', 'pos': [f'answer number {i}'], 'neg': [f'other {i}']}
         for i in range(8)]


def _embedder(minilm_path, tmp_path, **options):
    return (lazyllm.TrainableModule(str(minilm_path), target_path=str(tmp_path / 'runs'))
            .finetune_method(lazyllm.finetune.sentence_transformers, epochs=1, batch_size=4,
                             **options)
            .trainset(PAIRS))


def _runs(tmp_path):
    root = tmp_path / 'runs'
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def test_a_broken_line_fails_before_any_job(minilm_path, tmp_path, lazyllm_home):
    data = tmp_path / 'pairs.jsonl'
    data.write_text(json.dumps(PAIRS[0]) + '\n' + '{"query": "q", "pos": 3}\n')
    logs = lazyllm_home / 'logs'
    before = set(logs.iterdir()) if logs.exists() else set()
    m = _embedder(minilm_path, tmp_path).trainset(str(data))
    with pytest.raises(InputError) as e:
        m.update()
    assert 'pairs.jsonl:2' in str(e.value) and '"pos"' in str(e.value)
    assert _runs(tmp_path) == []                                  # no run folder
    assert (set(logs.iterdir()) if logs.exists() else set()) == before   # no process
    assert m.status == 'stopped'


@pytest.mark.parametrize('build, words', [
    (lambda m: m.finetune_method('nope'), 'unknown finetune method'),
    (lambda m: m.finetune_method(lazyllm.finetune.lora, rank=8), 'has no option(s) rank'),
    (lambda m: m.finetune_method(lazyllm.finetune.lora, r='8'), 'option r must be an int'),
    (lambda m: m.mode('train'), "mode must be 'finetune' or 'server'"),
    (lambda m: m.trainset(42), 'trainset takes a path'),
])
def test_builders_check_their_arguments(build, words):
    with pytest.raises(InputError) as e:
        build(lazyllm.TrainableModule('/models/x'))
    assert words in str(e.value)


def test_update_checks_what_it_needs_before_training(minilm_path, tmp_path):
    m = lazyllm.TrainableModule(str(minilm_path)).mode('finetune')
    with pytest.raises(InputError, match='needs a method'):
        m.update()
    m.finetune_method(lazyllm.finetune.auto)
    with pytest.raises(InputError, match=r'needs data: call \.trainset'):
        m.update()
    m.finetune_method(lazyllm.finetune.lora).trainset(PAIRS)
    with pytest.raises(InputError, match='does not train embed models'):
        m.update()
    assert _runs(tmp_path) == []


def test_update_twice_serves_the_second_run(minilm_path, tmp_path):
    m = _embedder(minilm_path, tmp_path)
    share = m.share()
    try:
        m.update()
        first = m.finetuned_model_path
        assert first and m.status == 'running'
        assert m.deployment.client().models() == [first.rsplit('/', 1)[-1]]
        vector_1 = share('question 1')                  # the share follows the deployment
        m.update()
        second = m.finetuned_model_path
        assert second != first
        assert m.deployment.client().models() == [second.rsplit('/', 1)[-1]]
        assert len(share('question 1')) == len(vector_1) == 384
    finally:
        m.stop()
    runs = _runs(tmp_path)
    assert len(runs) == 2 and not any(r.startswith('.') for r in runs)
    for run in runs:
        folder = tmp_path / 'runs' / run
        metrics = json.loads((folder / 'metrics.json').read_text())
        assert metrics['steps'] >= 1 and metrics['final_loss'] is not None
        assert (folder / 'modules.json').is_file()                # a sentence-transformers model
        meta = folder / '.lazyllm'
        assert (meta / 'job.log').read_text().count('LAZYLLM_PROGRESS') == metrics['steps']
        assert len((meta / 'trainset.jsonl').read_text().splitlines()) == len(PAIRS)
        assert json.loads((meta / 'job.json').read_text())['options']['epochs'] == 1


def test_a_failed_job_leaves_no_model_folder_and_says_why(minilm_path, tmp_path):
    # the job runs under an interpreter without the training libraries: it fails at once
    lazyllm.config['engine_python'] = sys._base_executable
    try:
        m = _embedder(minilm_path, tmp_path)
        with pytest.raises(FinetuneError) as e:
            m.update()
    finally:
        lazyllm.config.reset('engine_python')
    text = str(e.value)
    assert 'sentence_transformers failed' in text and 'Full log:' in text
    assert 'No module named' in text
    assert _runs(tmp_path) == []                         # the partial folder is removed
    assert m.finetuned_model_path is None


def test_set_specific_finetuned_model_serves_that_folder(minilm_path, tmp_path):
    m = lazyllm.TrainableModule(str(minilm_path))
    m.set_specific_finetuned_model(minilm_path)
    assert m.finetuned_model_path == str(minilm_path)
    with pytest.raises(InputError, match='is not a folder'):
        m.set_specific_finetuned_model(tmp_path / 'missing')
