"""TrainableModule: a local model (or an engine at a URL) you call like a function.

    base = lazyllm.TrainableModule('/models/SmolLM2-135M-Instruct').start()
    chat = base.share(prompt='You are a chatbot')           # same engine, own prompt
    chat('What is the capital of France?')

The module holds a ``Deployment``; ``share()`` returns a view holding the *same* Deployment
with its own prompt, formatter, stream setting, history and sampling defaults. Calls go
through the one OpenAI-protocol client. What a call does depends on the model type: an LLM
answers text, an embedding model returns vectors, a reranker returns (index, score) pairs.
"""
from __future__ import annotations

import os
from typing import Any, AsyncIterator, Callable, Iterator

from .._log import get_logger
from ..deploy import auto as _auto
from ..errors import InputError
from ..hub import ModelType
from ..prompt import PrompterBase
from ._base import ModuleBase
from ._calls import (
    as_prompter,
    check_sampling,
    embed_call,
    llm_request,
    rerank_call,
    share_view,
)
from ._deployment import Deployment
from ._finetune import FinetuneMixin

__all__ = ['TrainableModule']

_SAMPLING = frozenset({'temperature', 'top_p', 'top_k', 'max_tokens', 'stop', 'seed',
             'repetition_penalty', 'presence_penalty', 'frequency_penalty', 'tools'})


def _check_sampling(values: dict) -> dict:
    return check_sampling(values, _SAMPLING)


class TrainableModule(FinetuneMixin, ModuleBase):
    """A model served by an engine that lazyllm launches, or reached at a URL; finetuned by
    ``update()`` (see ``_finetune``)."""

    def __init__(self, base_model: str | os.PathLike = '', target_path: str = '', *,
                 stream: bool | dict = False, type: Any = None, source: str | None = None,
                 trust_remote_code: bool = False, url: str | None = None,
                 launcher: Any = None, name: str | None = None):
        super().__init__(stream=stream, name=name)
        if base_model and not isinstance(base_model, (str, os.PathLike)):
            raise InputError(f'base_model must be a model name or path, got '
                             f'{base_model.__class__.__name__}.')   # type= shadows type()
        self._base_model, self._target_path, self._source = base_model, target_path, source
        self._deployment = Deployment(base_model, engine=_auto, url=url, launcher=launcher,
                                      type=type, trust_remote_code=trust_remote_code)
        self._prompter: PrompterBase | None = None
        self._history: list = []
        self._sampling: dict = {}
        self._adapter: str | None = None
        self._init_finetune()
        self._named_start: tuple | None = None   # (name or None for reuse, detach)

    # -- builders (return self) -----------------------------------------------------------
    def deploy_method(self, engine: Any = _auto, *, url: str | None = None,
                      launcher: Any = None, port: int | None = None, python: str | None = None,
                      api_key: str | None = None, **options: Any) -> 'TrainableModule':
        """Choose the engine and its options, or attach to ``url`` instead of launching."""
        dep = self._deployment
        if dep.state in ('running', 'attached'):
            raise InputError('deploy_method() on a started module: call stop() first.')
        # a URL given before stays only for a module without a model of its own
        url = url or (None if self._base_model else dep.given_url)
        dep.configure(engine=engine, options=options, url=url,
                      launcher=launcher or dep.launcher, port=port, python=python,
                      api_key=api_key)
        return self

    def prompt(self, prompt: Any) -> 'TrainableModule':
        self._prompter = as_prompter(prompt)
        return self

    def formatter(self, formatter: Callable[[Any], Any] | None) -> 'TrainableModule':
        if formatter is not None and not callable(formatter):
            raise InputError('formatter must be callable, e.g. lazyllm.formatter.JsonFormatter().')
        self._formatter = formatter
        return self

    def share(self, prompt: Any = None, format: Callable | None = None,
              stream: bool | dict | None = None, history: list | None = None,
              adapter: str | None = None, **sampling: Any) -> 'TrainableModule':
        """A view on the same deployment with its own prompt, formatter, stream setting,
        history and sampling defaults. ``adapter`` names a LoRA adapter the engine serves
        as a model (``deploy_method(lazyllm.deploy.vllm, lora={'sql': path})``).
        Changing the view never changes this module."""
        if adapter is not None and (not isinstance(adapter, str) or not adapter):
            raise InputError('adapter must be the name of a served LoRA adapter, e.g. "sql".')
        view = share_view(self, prompt, format, stream, history, _check_sampling(sampling))
        if adapter is not None:
            view._adapter = adapter
        return view

    # -- state ----------------------------------------------------------------------------
    @property
    def url(self) -> str | None:
        return self._deployment.url

    @property
    def status(self) -> str:
        return self._deployment.state

    @property
    def type(self) -> ModelType | None:
        return self._deployment.type

    @property
    def deployment(self) -> Deployment:
        return self._deployment

    def _model_name(self, dep: Deployment) -> str | None:
        return self._adapter or dep.adapter or dep.served_name

    def start(self, name: str | None = None, *, detach: bool = False,
              reuse: bool = False) -> 'TrainableModule':
        """Deploy (see ModuleBase.start). With ``name``, the deployment is registered under
        it: another process starting the same name and configuration attaches instead of
        launching a second engine; ``detach=True`` keeps the engine running after this
        interpreter exits. ``reuse=True`` without a name attaches to any live deployment of
        the same configuration (see ``_named``)."""
        if name is not None or reuse:
            self._named_start = (name, detach)
        elif detach:
            raise InputError('detach=True needs a name= (or reuse=True) so that the engine '
                             'can be found later.')
        super().start()
        return self

    def stop(self, force: bool = False) -> 'TrainableModule':
        """Stop (see ModuleBase.stop). ``force=True`` also ends a named engine this module
        only attached to, or one it started detached."""
        if force:
            self._deployment.stop(force=True)
        super().stop()
        return self

    def _alive(self) -> bool:
        return self._deployment.state != 'failed'   # e.g. its job was cancelled from outside

    def _start_self(self) -> None:
        named = self._named_start
        if named is not None and self._deployment.state not in ('running', 'attached'):
            from ._named import start_named
            start_named(self._deployment, named[0], detach=named[1])
        else:
            self._deployment.start()

    def _stop_self(self) -> None:
        self._deployment.stop()

    def _ready(self) -> Deployment:
        dep = self._deployment
        if dep.state not in ('running', 'attached'):
            job = dep.job
            if job is not None:   # launched, then the engine exited by itself
                get_logger().warning('the engine of %s exited (code %s, log: %s): starting it '
                                     'again', self.name, job.returncode, job.log_path)
            else:
                get_logger().warning('%s was not started: starting it on first call', self.name)
            self._ensure_started()
            if dep.state not in ('running', 'attached'):   # stopped by a share meanwhile
                dep.start()
        return dep

    # -- calls ----------------------------------------------------------------------------
    def _llm_args(self, input: Any, kw: dict) -> tuple[list, dict]:
        history = self._history + list(kw.pop('history', None) or [])
        params = {**self._sampling, **_check_sampling(kw)}
        return llm_request(self._prompter, input, history, params)

    def forward(self, *args: Any, **kw: Any) -> Any:
        dep = self._ready()
        if dep.type == ModelType.EMBED:
            return embed_call(dep.client(), dep.served_name, *args, **kw)
        if dep.type == ModelType.RERANK:
            return rerank_call(dep.client(), dep.served_name, *args, **kw)
        messages, params = self._llm_args(_single(args), kw)
        return dep.client().chat(messages, model=self._model_name(dep), **params).content

    def stream_forward(self, *args: Any, **kw: Any) -> Iterator[str]:
        dep = self._ready()
        if dep.type in (ModelType.EMBED, ModelType.RERANK):
            yield self.forward(*args, **kw)
            return
        messages, params = self._llm_args(_single(args), kw)
        for delta in dep.client().stream_chat(messages, model=self._model_name(dep), **params):
            if delta.content:
                yield delta.content

    async def acall(self, *args: Any, **kw: Any) -> Any:
        """The async twin of calling the module (formatter applied; hooks are sync-only)."""
        dep = self._ready()
        client = dep.aclient()
        if dep.type == ModelType.EMBED:
            out = await embed_call(client, dep.served_name, *args, **kw)
        elif dep.type == ModelType.RERANK:
            out = await rerank_call(client, dep.served_name, *args, **kw)
        else:
            messages, params = self._llm_args(_single(args), kw)
            out = (await client.chat(messages, model=self._model_name(dep), **params)).content
        return self._formatter(out) if self._formatter is not None else out

    __acall__ = acall

    async def astream(self, *args: Any, **kw: Any) -> AsyncIterator[str]:
        dep = self._ready()
        messages, params = self._llm_args(_single(args), kw)
        async for delta in dep.aclient().stream_chat(messages, model=self._model_name(dep),
                                                     **params):
            if delta.content:
                yield delta.content

    def _repr_head(self) -> str:
        base = super()._repr_head()[len(type(self).__name__) + 1:-1]
        model = os.fspath(self._base_model) or self._deployment.given_url or ''
        parts = [repr(model)] + ([base] if base else [])
        return f'TrainableModule({", ".join(parts)}) [{self._deployment.state}]'


def _single(args: tuple) -> Any:
    if len(args) != 1:
        raise InputError(f'an LLM module takes one input (a str or a dict for the prompt), '
                         f'got {len(args)} positional arguments.')
    return args[0]
