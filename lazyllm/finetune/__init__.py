"""Finetuning: jobs that turn (base weights, trainset) into new weights, run by a launcher.

    emb = (lazyllm.TrainableModule('/models/all-MiniLM-L6-v2')
           .finetune_method(lazyllm.finetune.sentence_transformers, epochs=2)
           .trainset('data/pairs.jsonl').mode('finetune'))
    emb.update()        # validate the trainset, train, then serve the new weights

Methods (``methods``): ``sentence_transformers`` and ``flagembedding`` for embedding and
reranker models, ``lora`` (alias ``alpacalora``) for LLMs, ``auto`` by model type; a package
adds more through the entry-point group ``lazyllm.finetune_methods`` (docs/plugins.md). Each job
runs in its own process through a launcher (``lazyllm.launchers``; local by default), writes
a run folder (``_run``) and reports progress and the loss. Trainsets are checked before
anything starts (``load_trainset``): a bad line is an InputError naming file, line and field.
"""
from ._methods import (
    TASKS,
    AutoMethod,
    FinetuneMethod,
    auto,
    flagembedding,
    get_method,
    lora,
    methods,
    pick_method,
    register_method,
    sentence_transformers,
)
from ._run import latest_run, run_finetune, runs_root
from ._trainset import Trainset, load_trainset

alpacalora = lora

__all__ = ['FinetuneMethod', 'AutoMethod', 'methods', 'register_method', 'get_method',
           'pick_method', 'auto', 'sentence_transformers', 'flagembedding', 'lora',
           'alpacalora', 'load_trainset', 'Trainset', 'run_finetune', 'runs_root',
           'latest_run', 'TASKS']
