"""Finetuning that helps, measured through the deployed module: an embedding model and a
reranker learn an artificial retrieval task (invented words for real things) and rank the
held-out queries' documents better after update() than before."""
from __future__ import annotations

import pytest

import lazyllm
from tests.support.retrieval_task import (
    RECOMMENDED_EMBED_OPTIONS,
    RECOMMENDED_RERANK_OPTIONS,
    mean_rank,
    recall_at_1,
    rerank_mean_rank,
    rerank_recall_at_1,
    retrieval_task,
)

pytest.importorskip('sentence_transformers')
TASK = retrieval_task()


def _ranked(m):
    return mean_rank(m(TASK.test_queries), m(TASK.test_docs), TASK.test_answers), \
        recall_at_1(m(TASK.test_queries), m(TASK.test_docs), TASK.test_answers)


@pytest.mark.parametrize('method', ['sentence_transformers', 'flagembedding'])
def test_embedding_model_ranks_better_after_update(method, minilm_path, tmp_path):
    if method == 'flagembedding':
        pytest.importorskip('FlagEmbedding')
    m = (lazyllm.TrainableModule(str(minilm_path), target_path=str(tmp_path))
         .finetune_method(method, **RECOMMENDED_EMBED_OPTIONS[method])
         .trainset(TASK.train).mode('finetune'))
    try:
        rank_before, recall_before = _ranked(m.start())
        m.update()
        rank_after, recall_after = _ranked(m)
    finally:
        m.stop()
    assert rank_after < rank_before - 2, (rank_before, rank_after)
    assert recall_after > recall_before


def test_reranker_ranks_the_positive_first_more_often_after_update(reranker_path, tmp_path):
    m = (lazyllm.TrainableModule(str(reranker_path), target_path=str(tmp_path))
         .finetune_method(lazyllm.finetune.auto,
                          **RECOMMENDED_RERANK_OPTIONS['sentence_transformers'])
         .trainset(TASK.train))

    def scores(query, docs):
        by_index = dict(m(query, documents=docs))
        return [by_index[i] for i in range(len(docs))]

    try:
        m.start()
        before = rerank_recall_at_1(scores, TASK), rerank_mean_rank(scores, TASK)
        m.update()
        after = rerank_recall_at_1(scores, TASK), rerank_mean_rank(scores, TASK)
    finally:
        m.stop()
    assert after[0] > before[0], (before, after)
    assert after[1] < before[1], (before, after)
