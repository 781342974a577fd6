"""An artificial retrieval task where finetuning an embedding model or a reranker measurably helps.

Eight invented words stand for real things ('blicket' means 'cat', 'zorp' means 'bicycle', ...).
The training records ask about the invented words in three templates and point at documents
about the real things; the held-out queries use the same invented words in other templates and
must find a document about the real thing that no training record contains, among documents
about the other real things and about look-alike things ('dog' next to 'cat'). A base MiniLM does
not know the invented words (it ranks the held-out documents about at random); a model that
learned them ranks the right document first or second.

Pure Python (no numpy): the metrics take plain lists of floats.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Callable, Sequence

__all__ = ['Task', 'retrieval_task', 'mean_rank', 'recall_at_1', 'ranks', 'rerank_ranks',
           'rerank_mean_rank', 'rerank_recall_at_1', 'WORDS',
           'RECOMMENDED_EMBED_OPTIONS', 'RECOMMENDED_RERANK_OPTIONS']

# invented word -> (real word, four documents about it: three for training, one held out)
WORDS = {
    'blicket': ('cat', [
        'The cat sleeps on the sofa all afternoon.',
        'A cat purrs when it is happy and hunts mice at night.',
        'Cats have soft fur, long whiskers and sharp claws.',
        'Our cat drinks milk from a small bowl and chases the yarn.',
    ]),
    'zorp': ('bicycle', [
        'The bicycle is locked to the fence outside the school.',
        'A bicycle has two wheels, pedals and a chain.',
        'Riding a bike to work is cheap and good exercise.',
        'He pumped up the flat tyre of his bicycle before the race.',
    ]),
    'frindle': ('apple', [
        'The apple is in the fruit bowl on the kitchen table.',
        'An apple is a sweet, crunchy fruit that grows on trees.',
        'Apples can be red, green or yellow and make good pies.',
        'She picked a ripe apple from the orchard and took a bite.',
    ]),
    'wug': ('piano', [
        'The piano stands in the corner of the living room.',
        'A piano makes music when you press its black and white keys.',
        'Playing the piano takes years of practice and lessons.',
        'The pianist tuned the grand piano before the concert.',
    ]),
    'dax': ('ship', [
        'The ship is anchored in the harbour near the lighthouse.',
        'A ship carries cargo and passengers across the ocean.',
        'Large ships have a captain, a crew and many cabins.',
        'The old sailing ship lost its mast in the storm at sea.',
    ]),
    'quibbet': ('doctor', [
        'The doctor is in the clinic on the second floor.',
        'A doctor examines patients and prescribes medicine.',
        'Doctors study medicine at university for many years.',
        'The doctor listened to my heart with a stethoscope.',
    ]),
    'glorp': ('rain', [
        'The rain is falling on the roof of the house.',
        'Rain is water that falls from the clouds in drops.',
        'Heavy rain can flood the streets and fill the rivers.',
        'Take an umbrella, the rain will not stop until evening.',
    ]),
    'snarfle': ('book', [
        'The book lies open on the desk next to the lamp.',
        'A book has pages full of words and a cover.',
        'Reading a good book before bed helps you relax.',
        'She borrowed a thick novel from the library for the holidays.',
    ]),
}

# Held-out distractors: real things that look like the ones above (not in any training record).
LOOKALIKES = [
    'Our dog drinks water from a large bowl and chases the ball.',
    'He filled the tank of his motorcycle before the trip.',
    'She picked a ripe pear from the tree and ate it.',
    'The guitarist tuned the old guitar before the show.',
    'The small airplane landed on the runway in the storm.',
    'The nurse checked my blood pressure with a cuff.',
    'Take a scarf, the snow will not stop until morning.',
    'She bought a glossy magazine at the kiosk for the train.',
]

TRAIN_TEMPLATES = ['where is the {}?', 'what is a {}?', 'tell me about {}s']
TEST_TEMPLATES = ['I would like to know more about my {}.', 'any story about a {}?']


@dataclass
class Task:
    train: list[dict]                    # normalized records {"query", "pos": [doc], "neg": [...]}
    test_queries: list[str]
    test_docs: list[str]
    test_answers: list[int]              # index in test_docs of each test query's document
    words: dict = field(default_factory=dict)


def retrieval_task(seed: int = 0) -> Task:
    """The task: 24 training records, 16 held-out queries over 16 documents (deterministic)."""
    rng = random.Random(seed)
    names = list(WORDS)
    train = []
    for i, word in enumerate(names):
        _, docs = WORDS[word]
        for t, template in enumerate(TRAIN_TEMPLATES):
            # hard negatives: the same kind of sentence about other real things
            others = [WORDS[names[(i + k) % len(names)]][1][t] for k in (1, 3)]
            train.append({'query': template.format(word), 'pos': [docs[t]],
                          'neg': others[:1 + (t % 2)]})
    rng.shuffle(train)
    test_docs = [WORDS[w][1][3] for w in names] + list(LOOKALIKES)
    order = list(range(len(test_docs)))
    rng.shuffle(order)
    test_docs = [test_docs[j] for j in order]
    queries, answers = [], []
    for i, word in enumerate(names):
        for template in TEST_TEMPLATES:
            queries.append(template.format(word))
            answers.append(order.index(i))
    return Task(train=train, test_queries=queries, test_docs=test_docs, test_answers=answers,
                words={w: WORDS[w][0] for w in names})


# ---------------------------------------------------------------------------- metrics

def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0


def _rank(scores: Sequence[float], answer: int) -> int:
    """1-based rank of the answer (ties count against it)."""
    return 1 + sum(1 for j, s in enumerate(scores) if j != answer and s >= scores[answer])


def ranks(vectors_q, vectors_d, answers) -> list[int]:
    """The rank of each query's document among all documents, by cosine similarity."""
    return [_rank([_cosine(q, d) for d in vectors_d], a) for q, a in zip(vectors_q, answers)]


def mean_rank(vectors_q, vectors_d, answers) -> float:
    r = ranks(vectors_q, vectors_d, answers)
    return sum(r) / len(r)


def recall_at_1(vectors_q, vectors_d, answers) -> float:
    r = ranks(vectors_q, vectors_d, answers)
    return sum(1 for x in r if x == 1) / len(r)


def rerank_ranks(score_fn: Callable[[str, list], Sequence[float]], task: Task) -> list[int]:
    """``score_fn(query, docs)`` gives one relevance score per document."""
    return [_rank([float(s) for s in score_fn(q, list(task.test_docs))], a)
            for q, a in zip(task.test_queries, task.test_answers)]


def rerank_mean_rank(score_fn, task: Task) -> float:
    r = rerank_ranks(score_fn, task)
    return sum(r) / len(r)


def rerank_recall_at_1(score_fn, task: Task) -> float:
    r = rerank_ranks(score_fn, task)
    return sum(1 for x in r if x == 1) / len(r)


# Options the finetune tests (and the lead) use on this task, per method, measured on a loaded
# 2-core CPU (seed 42, 24 records, each job 20-60 s):
# - embed, MiniLM: held-out mean rank 8.0 -> 2.25 (sentence_transformers), -> 3.19
#   (flagembedding); recall@1 0.0 -> 0.375 (both).
# - rerank, the tiny cross-encoder: mean rank 7.44 -> 6.25, recall@1 0.0 -> 0.19
#   (sentence_transformers); mean rank 7.44 -> 5.81, recall@1 stays 0.0 (flagembedding).
RECOMMENDED_EMBED_OPTIONS = {
    'sentence_transformers': {'epochs': 3, 'learning_rate': 1e-4, 'batch_size': 8},
    'flagembedding': {'epochs': 3, 'learning_rate': 1e-4, 'batch_size': 8,
                      'train_group_size': 2},
}
RECOMMENDED_RERANK_OPTIONS = {
    'sentence_transformers': {'epochs': 3, 'learning_rate': 1e-4, 'batch_size': 8},
    'flagembedding': {'epochs': 3, 'learning_rate': 1e-4, 'batch_size': 8,
                      'train_group_size': 2},
}
