"""Finetune methods: a table of what can train which model type, with which options.

A method names its job module (``lazyllm.finetune.jobs.<job>``, or a plugin's own dotted
module; run in its own process), the tasks it trains (``embed``, ``rerank``, ``llm``), its
options (checked before any process starts; defaults filled in, so a job never guesses) and
what it needs installed. Built-ins register the same way a plugin does (``register_method``;
a package declares a ``FinetuneMethod`` instance in the entry-point group
``lazyllm.finetune_methods``)::

    m.finetune_method(lazyllm.finetune.lora, r=16, epochs=2)
    m.finetune_method('sentence_transformers', learning_rate=1e-4)
    m.finetune_method(lazyllm.finetune.auto)      # by the model's type
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, Mapping

from .._options import Option, validate_options
from .._registry import Registry
from .._requires import missing_modules
from ..errors import FinetuneError, InputError

__all__ = ['FinetuneMethod', 'AutoMethod', 'register_method', 'get_method', 'methods',
           'pick_method', 'TASKS']

TASKS = ('embed', 'rerank', 'llm')


@dataclass(frozen=True)
class FinetuneMethod:
    """One way to finetune; see the module docstring."""
    name: str
    tasks: frozenset
    options: Mapping[str, Option] = field(default_factory=dict)
    job: str = ''                     # a module of lazyllm.finetune.jobs, or dotted
    requires: tuple = ()              # modules the job's interpreter must have
    install_hint: str = "pip install 'lazyllm-model-layer[finetune]'"

    def trains(self, task: str) -> bool:
        return task in self.tasks

    def validate(self, options: Mapping[str, Any]) -> dict:
        """The options checked, with every default filled in (what the job receives)."""
        given = validate_options(f'{self.name} finetune method', self.options, options)
        return {**{k: o.default for k, o in self.options.items()}, **given}

    def check_installed(self, python: str = sys.executable) -> None:
        """Fail before launching when this interpreter lacks what the job imports."""
        missing = missing_modules(self.requires, python)
        if missing:
            raise FinetuneError(f'the {self.name} finetune method needs '
                                f'{", ".join(missing)}, not installed in {python}: '
                                f'{self.install_hint}')

    def argv(self, job_json: str, python: str = sys.executable) -> list[str]:
        """``python -m <job module> job.json``: a bare ``job`` is a module of
        ``lazyllm.finetune.jobs``, a dotted one (a plugin's) is taken as given."""
        module = self.job if '.' in self.job else f'lazyllm.finetune.jobs.{self.job}'
        return [python, '-m', module, job_json]

    def __repr__(self) -> str:
        return f'<finetune method {self.name}: {", ".join(sorted(self.tasks))}>'


class AutoMethod:
    """``lazyllm.finetune.auto``: the method for the model's type, chosen at ``update()``
    (sentence_transformers for embed and rerank, lora for llm). Options given with it must
    suit the chosen method."""
    name = 'auto'

    def __repr__(self) -> str:
        return '<finetune method auto: by model type>'


def _admit(name: str, method: FinetuneMethod) -> None:
    if not isinstance(method, FinetuneMethod):
        raise InputError(f'finetune method {name!r} must be a lazyllm.finetune.FinetuneMethod, '
                         f'not {type(method).__name__}')
    if name == 'auto':
        raise InputError('the finetune method name auto is lazyllm.finetune.auto (chosen by the '
                         'model type): choose another name')


methods: Registry[FinetuneMethod] = Registry(
    'finetune method', 'lazyllm.finetune_methods', admit=_admit,
    hint=", or auto (by the model's type), e.g. lazyllm.finetune.lora")
_AUTO = {'embed': 'sentence_transformers', 'rerank': 'sentence_transformers', 'llm': 'lora'}


def register_method(method: FinetuneMethod, *aliases: str,
                    replace: bool = False) -> FinetuneMethod:
    """Add ``method`` under its name and ``aliases``; a name already taken is an InputError
    unless ``replace=True``."""
    return methods.register(method, aliases=aliases, replace=replace)


def get_method(method: Any) -> FinetuneMethod | AutoMethod:
    """A method from the table, by object or name (``'lora'``, ``'alpacalora'``…)."""
    if isinstance(method, (FinetuneMethod, AutoMethod)):
        return method
    if isinstance(method, str) and method.lower() == 'auto':
        return auto
    return methods.get(method)


def pick_method(method: Any, task: str) -> FinetuneMethod:
    """The concrete method that trains ``task`` (resolving ``auto``), or an InputError."""
    method = get_method(method)
    if isinstance(method, AutoMethod):
        method = methods.get(_AUTO[task])
    if not method.trains(task):
        able = sorted(m.name for m in methods.values() if m.trains(task))
        raise InputError(f'the {method.name} finetune method does not train {task} models '
                         f'(it trains {", ".join(sorted(method.tasks))}): use '
                         f'{" or ".join(able)}, or lazyllm.finetune.auto')
    return method


auto = AutoMethod()
_COMMON = {
    'epochs': Option(int, 1, 'passes over the trainset'),
    'seed': Option(int, 42, 'random seed (runs are repeatable)'),
}
sentence_transformers = register_method(FinetuneMethod(
    'sentence_transformers', frozenset({'embed', 'rerank'}), {
        **_COMMON,
        'learning_rate': Option(float, 5e-5, 'peak learning rate'),
        'batch_size': Option(int, 16, 'examples per step (in-batch negatives for embed)'),
        'max_length': Option(int, 256, 'tokens per text'),
        'warmup_ratio': Option(float, 0.1, 'share of steps spent warming up'),
    }, job='sentence_transformers', requires=('sentence_transformers', 'datasets')))
flagembedding = register_method(FinetuneMethod(
    'flagembedding', frozenset({'embed', 'rerank'}), {
        **_COMMON,
        'learning_rate': Option(float, 2e-5, 'peak learning rate'),
        'batch_size': Option(int, 8, 'queries per step'),
        'query_max_len': Option(int, 64, 'tokens per query'),
        'passage_max_len': Option(int, 256, 'tokens per passage'),
        'train_group_size': Option(int, 2, 'passages per query: one positive, the rest negatives'),
        'temperature': Option(float, 0.02, 'contrastive loss temperature (embed)'),
        'pooling': Option(str, None, "'cls', 'mean' or 'last_token' (default: the base model's)",
                          ('cls', 'mean', 'last_token')),
        'normalize': Option(bool, None, "normalize embeddings (default: as the base model does)"),
    }, job='flagembedding', requires=('FlagEmbedding', 'sentence_transformers')))
lora = register_method(FinetuneMethod(
    'lora', frozenset({'llm'}), {
        **_COMMON,
        'r': Option(int, 8, 'LoRA rank'),
        'alpha': Option(int, 16, 'LoRA alpha (scaling)'),
        'dropout': Option(float, 0.05, 'LoRA dropout'),
        'target_modules': Option(list, None, "layers to adapt (default: peft's for the model)"),
        'learning_rate': Option(float, 2e-4, 'peak learning rate'),
        'batch_size': Option(int, 4, 'examples per step'),
        'max_length': Option(int, 512, 'tokens per example (longer ones are cut)'),
        'max_steps': Option(int, None, 'train this many steps (instead of epochs)'),
        'merge': Option(bool, None, 'write merged weights (default), or only the adapter '
                                    '(default with the vllm engine, which serves adapters)'),
    }, job='lora', requires=('peft', 'transformers')), 'alpacalora')
