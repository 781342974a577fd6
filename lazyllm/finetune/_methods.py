"""Finetune methods: a table of what can train which model type, with which options.

A method names its job module (``lazyllm.finetune.jobs.<job>``, run in its own process), the
tasks it trains (``embed``, ``rerank``, ``llm``), its options (checked before any process
starts; defaults filled in, so a job never guesses) and what it needs installed. Built-ins
register the same way a plugin would (``register_method``)::

    m.finetune_method(lazyllm.finetune.lora, r=16, epochs=2)
    m.finetune_method('sentence_transformers', learning_rate=1e-4)
    m.finetune_method(lazyllm.finetune.auto)      # by the model's type
"""
from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from .._options import Option, validate_options
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
    job: str = ''                     # the module under lazyllm.finetune.jobs
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
        if python != sys.executable:
            return                    # another venv: the job's own log says what is missing
        missing = [m for m in self.requires if importlib.util.find_spec(m) is None]
        if missing:
            raise FinetuneError(f'the {self.name} finetune method needs '
                                f'{", ".join(missing)}, not installed in {python}: '
                                f'{self.install_hint}')

    def argv(self, job_json: str, python: str = sys.executable) -> list[str]:
        return [python, '-m', f'lazyllm.finetune.jobs.{self.job}', job_json]

    def __repr__(self) -> str:
        return f'<finetune method {self.name}: {", ".join(sorted(self.tasks))}>'


class AutoMethod:
    """``lazyllm.finetune.auto``: the method for the model's type, chosen at ``update()``
    (sentence_transformers for embed and rerank, lora for llm). Options given with it must
    suit the chosen method."""
    name = 'auto'

    def __repr__(self) -> str:
        return '<finetune method auto: by model type>'


_METHODS: dict[str, FinetuneMethod] = {}
methods: Mapping[str, FinetuneMethod] = MappingProxyType(_METHODS)
_AUTO = {'embed': 'sentence_transformers', 'rerank': 'sentence_transformers', 'llm': 'lora'}


def register_method(method: FinetuneMethod, *aliases: str) -> FinetuneMethod:
    if not isinstance(method, FinetuneMethod):
        raise InputError(f'register_method() takes a FinetuneMethod, not '
                         f'{type(method).__name__}')
    for name in (method.name, *aliases):
        _METHODS[name] = method
    return method


def get_method(method: Any) -> FinetuneMethod | AutoMethod:
    """A method from the table, by object or name (``'lora'``, ``'alpacalora'``…)."""
    if isinstance(method, (FinetuneMethod, AutoMethod)):
        return method
    if isinstance(method, str):
        if method.lower() == 'auto':
            return auto
        if method.lower() in _METHODS:
            return _METHODS[method.lower()]
    raise InputError(f'unknown finetune method {method!r}: use one of '
                     f'{", ".join(["auto", *sorted(_METHODS)])} (e.g. lazyllm.finetune.lora)')


def pick_method(method: Any, task: str) -> FinetuneMethod:
    """The concrete method that trains ``task`` (resolving ``auto``), or an InputError."""
    method = get_method(method)
    if isinstance(method, AutoMethod):
        method = _METHODS[_AUTO[task]]
    if not method.trains(task):
        able = sorted({m.name for m in _METHODS.values() if m.trains(task)})
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
