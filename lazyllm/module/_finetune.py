"""Finetuning on TrainableModule: ``finetune_method``, ``trainset``, ``mode`` and ``update()``.

    llm = (lazyllm.TrainableModule('/models/SmolLM2-135M-Instruct')
           .finetune_method(lazyllm.finetune.lora, r=8, max_steps=30)
           .trainset('data/alpaca.json').mode('finetune'))
    llm.update()      # check the trainset, train, then serve the new weights
    llm('…')          # answered by the finetuned model; its shares follow too

Each ``update()`` trains a new run from the base model and deploys it: calling it twice
serves the second run. The trainset is checked before anything starts; the job runs through
the launcher given to ``finetune_method`` (local by default). LoRA writes merged weights for
the built-in engine, and an adapter the vLLM engine serves beside the base model.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .._config import expand_user
from .._log import get_logger
from ..errors import InputError
from ..serve import load_adapter, swap, unload_adapter

__all__ = ['FinetuneMixin']

_MODES = ('finetune', 'server')


class _Finetune:
    """What ``update()`` trains: method, options, launcher, trainset; shared by shares."""

    def __init__(self) -> None:
        self.method: Any = None
        self.options: dict = {}
        self.launcher: Any = None
        self.trainset: Any = None
        self.mode: str | None = None
        self.last_run: Path | None = None


class FinetuneMixin:
    """The finetuning half of TrainableModule (see the module docstring)."""

    _deployment: Any
    _base_model: Any
    _target_path: Any
    _adapter: str | None

    _ft: _Finetune   # set by _init_finetune; shares hold the same settings

    def _init_finetune(self) -> None:
        self._ft = _Finetune()

    # -- builders (return self) -------------------------------------------------------------
    def finetune_method(self, method: Any = None, *, launcher: Any = None,
                        **options: Any) -> Any:
        """How ``update()`` trains: ``lazyllm.finetune.lora`` / ``sentence_transformers`` /
        ``flagembedding`` / ``auto`` (or their names), with that method's options. The
        options are checked now (for ``auto``: when the model's type is known, at update)."""
        from ..finetune import FinetuneMethod, auto, get_method
        method = get_method(auto if method is None else method)
        if isinstance(method, FinetuneMethod):
            method.validate(options)
        ft = self._ft
        ft.method, ft.options, ft.launcher = method, dict(options), launcher
        return self

    def trainset(self, data: Any) -> Any:
        """The training data: a .jsonl / .json file, a folder of them, or a list of dicts.
        It is read and checked at ``update()``, before any process starts."""
        if not isinstance(data, (str, os.PathLike, list, tuple)):
            raise InputError(f'trainset takes a path (a .jsonl/.json file or a folder) or a '
                             f'list of records, not {type(data).__name__}.')
        self._ft.trainset = data
        return self

    def mode(self, mode: str) -> Any:
        """``'finetune'``: ``update()`` trains, then deploys (the default once a finetune
        method is set); ``'server'``: ``update()`` only redeploys."""
        if mode not in _MODES:
            raise InputError(f"mode must be 'finetune' or 'server', not {mode!r}.")
        self._ft.mode = mode
        return self

    # -- runs -------------------------------------------------------------------------------
    @property
    def finetuned_model_path(self) -> str | None:
        """The folder of the weights the last ``update()`` trained (or that
        ``set_specific_finetuned_model`` chose); None before any."""
        last = self._ft.last_run
        return str(last) if last is not None else None

    def set_specific_finetuned_model(self, path: str | os.PathLike) -> Any:
        """Serve the weights in ``path`` (a run folder of an earlier ``update()``, or any
        model folder), without training: from the next start, or now on a running module,
        without a gap (a swap, or a LoRA adapter loaded into the running vLLM engine)."""
        folder = expand_user(path, 'set_specific_finetuned_model path')
        if not folder.is_dir():
            raise InputError(f'{folder} is not a folder: pass the folder of a finetuned model '
                             f'(see finetuned_model_path).')
        self._serve_run(folder)
        return self

    def load_adapter(self, name: str, path: str | os.PathLike) -> Any:
        """Serve the LoRA adapter in ``path`` as the model ``name`` and call it by default:
        loaded into a running vLLM engine that has LoRA enabled (no restart), else through
        a swap on a running module, else from the next start."""
        if not isinstance(name, str) or not name:
            raise InputError(f'adapter name must be a non-empty str, got {name!r}.')
        folder = expand_user(path, 'load_adapter path')
        if not (folder / 'adapter_config.json').is_file():
            raise InputError(f'{folder} holds no LoRA adapter (no adapter_config.json): pass '
                             f'the folder peft saved, e.g. an update() run with merge=False.')
        dep = self._deployment
        if not load_adapter(dep, name, str(folder)):
            swap(dep, options={**dep.options, 'lora': {**(dep.options.get('lora') or {}),
                                                       name: str(folder)}}, adapter=name)
        return self

    def unload_adapter(self, name: str) -> Any:
        """Stop serving the LoRA adapter ``name`` (unloaded from a running vLLM engine
        without a restart); calls that used it by default go to the base model."""
        unload_adapter(self._deployment, name)
        return self

    def _serve_run(self, folder: Path) -> None:
        """Serve the weights in ``folder`` on the deployment shared with every share: a
        LoRA adapter beside the base model, or a model folder in the base's place."""
        if (folder / 'adapter_config.json').is_file():
            self.load_adapter(folder.name, folder)
        else:
            swap(self._deployment, model=str(folder), adapter=None)
        self._ft.last_run = folder

    # -- update -----------------------------------------------------------------------------
    def _update_self(self) -> None:
        ft = self._ft
        mode = ft.mode or ('finetune' if ft.method is not None else 'server')
        if mode == 'server':   # redeploy an engine it launched: a new one, without a gap
            if self._deployment.state == 'running':
                swap(self._deployment, fresh=True)
            return
        if ft.method is None:
            raise InputError("mode('finetune') needs a method: call .finetune_method("
                             "lazyllm.finetune.auto) (or lora, sentence_transformers, "
                             "flagembedding) before update().")
        if ft.trainset is None:
            raise InputError('update() in finetune mode needs data: call .trainset(path or '
                             'list of records) first.')
        if not self._base_model:
            raise InputError('a module attached to a URL has no weights to finetune: give a '
                             'base model, e.g. TrainableModule("/models/SmolLM2-135M-Instruct").')
        from ..finetune import load_trainset, pick_method, run_finetune, runs_root
        from ..hub import model_type, resolve_model
        dep = self._deployment
        base = resolve_model(self._base_model, source=dep.source)
        task = (dep.type or model_type(base)).value
        if task not in ('embed', 'rerank', 'llm'):
            raise InputError(f'{base.name} is a {task} model: lazyllm finetunes embed, rerank '
                             f'and llm models.')
        method = pick_method(ft.method, task)
        data = load_trainset(ft.trainset, task)      # a bad line fails here, before a job
        options = dict(ft.options)
        vllm = getattr(dep.engine, 'name', '') == 'vllm'
        if method.name == 'lora' and options.get('merge') is None:
            options['merge'] = not vllm
        if method.name == 'lora' and options['merge'] is False and not vllm:
            raise InputError('lora with merge=False writes an adapter, which only the vllm '
                             'engine serves: deploy_method(lazyllm.deploy.vllm), or merge=True.')
        options = method.validate(options)
        run = run_finetune(method=method, task=task, base=base, trainset=data,
                           options=options, root=runs_root(self._target_path),
                           launcher=ft.launcher)
        get_logger().info('finetuned %s: %s', base.name, run)
        self._serve_run(run)
