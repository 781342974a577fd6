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
from ..client import ChatDelta, ChatResult
from ..deploy import auto as _auto
from ..errors import EndpointError, InputError
from ..hub import SOURCES, ModelType, model_type
from ..serve import Deployment, Lease, swap, swappable
from ._call_log import apply_return_trace
from ._calls import check_sampling, embed_call, rerank_call, then
from ._chat import ChatModule
from ._finetune import FinetuneMixin

__all__ = ['TrainableModule']

class TrainableModule(FinetuneMixin, ChatModule):
    """A model served by an engine that lazyllm launches, or reached at a URL; finetuned by
    ``update()`` (see ``_finetune``). Chat calls take the one path of ChatModule; this class
    says where they go (its deployment) and serves the model types that do not chat."""

    json_from_formatter = True     # the engines enforce response_format by constrained decoding

    def __init__(self, base_model: str | os.PathLike = '', target_path: str = '', *,
                 stream: bool | dict = False, type: Any = None, source: str | None = None,
                 trust_remote_code: bool = False, url: str | None = None,
                 launcher: Any = None, name: str | None = None, return_trace: bool = False):
        super().__init__(stream=stream, name=name)
        if base_model and not isinstance(base_model, (str, os.PathLike)):
            raise InputError(f'base_model must be a model name or path, got '
                             f'{base_model.__class__.__name__}.')   # type= shadows type()
        if source is not None and source not in SOURCES:
            raise InputError(f'source must be one of {", ".join(SOURCES)} (the hub this '
                             f'module downloads its model from first), not {source!r}.')
        self._base_model, self._target_path = base_model, target_path
        self._deployment = Deployment(base_model, engine=_auto, url=url, launcher=launcher,
                                      type=type, trust_remote_code=trust_remote_code,
                                      source=source)
        self._adapter: str | None = None
        self._init_finetune()
        self._named_start: tuple | None = None   # (name or None for reuse, detach, replica_of)
        apply_return_trace(self, return_trace)      # LazyLLM's flag: log each call

    # -- builders (return self) -----------------------------------------------------------
    def deploy_method(self, engine: Any = _auto, *, url: str | None = None,
                      launcher: Any = None, port: int | None = None, python: str | None = None,
                      api_key: str | None = None, **options: Any) -> 'TrainableModule':
        """Choose the engine and its options, or attach to ``url`` instead of launching.
        On a module serving an engine, a changed method swaps it for a new engine without a
        gap (blue-green: see _swap.py); the old one keeps serving if the new one fails."""
        dep = self._deployment
        if dep.state == 'attached' and not swappable(dep):
            raise InputError(f'deploy_method() on a module attached to {dep.url}: it runs no '
                             'engine of its own; call stop() first.')
        if url is not None and dep.state == 'running':
            raise InputError('deploy_method(url=...) on a running module: call stop() first, '
                             'then attach to the URL.')
        # a URL given before stays only for a module without a model of its own
        url = url or (None if self._base_model else dep.given_url)
        swap(dep, how=dict(engine=engine, options=options, url=url,
                           launcher=launcher or dep.launcher, port=port, python=python,
                           api_key=api_key))
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
        view = super().share(prompt, format, stream, history, **sampling)
        if adapter is not None:
            view._adapter = adapter
        return view

    def publish(self, name: str) -> 'TrainableModule':
        """Store this view under the model name ``name`` (``'smol:geo'``): the gateway
        (``lazyllm serve``) answers it as this share answers, for any process and client.
        Its deployment must be a named one (``start(name=...)`` or ``lazyllm.connect``); the
        variant is data (see ``lazyllm.module._variant``), so a custom prompter or a formatter
        that is code is refused. ``lazyllm variants`` lists and removes variants."""
        from ..registry import Registry, check_name, check_variant_name
        from ._variant import describe
        check_variant_name(name)
        named = self._deployment.named
        if named is None:
            raise InputError('publish() needs a named deployment that the gateway can reach: '
                             "start it with start(name='smol', detach=True), or attach with "
                             "lazyllm.connect('smol'), then share(...).publish(...).")
        kind = getattr(self._deployment.type, 'value', self._deployment.type)
        if kind not in ('llm', 'vlm'):
            raise InputError(f'publish() stores a chat share, and {named.name!r} is {kind!r} '
                             'model: publish a share of an llm or vlm deployment.')
        registry = Registry()
        if ':' not in name and registry.get(check_name(name)) is not None:
            raise InputError(f'{name!r} is the name of a deployment: pick another variant '
                             f'name, e.g. {named.name + ":" + name!r}.')
        registry.publish(name, named.name, describe(self))
        return self

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

    def _model_name(self, lease: Lease) -> str | None:
        """The model id a chat names: this view's adapter, else the engine's default."""
        return self._adapter or lease.adapter or lease.served_name

    def start(self, name: str | None = None, *, detach: bool = False,
              reuse: bool = False, replica_of: str | None = None) -> 'TrainableModule':
        """Deploy (see ModuleBase.start). With ``name``, the deployment is registered under
        it: another process starting the same name and configuration attaches instead of
        launching a second engine; ``detach=True`` keeps the engine running after this
        interpreter exits. ``reuse=True`` without a name attaches to any live deployment of
        the same configuration (see ``_named``). ``replica_of='smol'``: this deployment is
        one more replica of ``smol``, and the gateway (``lazyllm serve``) spreads the calls
        to ``smol`` over all of them."""
        if replica_of is not None and name is None:
            raise InputError("replica_of= needs a name= of the replica's own, e.g. "
                             "start(name='smol-2', replica_of='smol', detach=True).")
        if name is not None or reuse:
            self._named_start = (name, detach, replica_of)
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
            from ..serve import start_named
            start_named(self._deployment, named[0], detach=named[1], replica_of=named[2])
        else:
            self._deployment.start()

    def _stop_self(self) -> None:
        self._deployment.stop()

    def _serve_update(self) -> None:
        """``update()`` has swapped the engine already (``_update_self``): start it only if
        it does not run."""
        self._ensure_started()

    def _ready(self) -> Deployment:
        """The deployment, started if it is not: the first caller starts it (one warning)
        while the others wait on the lifecycle lock and then find it running."""
        dep = self._deployment
        if dep.state in ('running', 'attached'):
            return dep
        with self._life.lock:
            if dep.state not in ('running', 'attached'):
                job = dep.job
                if dep.evicted:
                    get_logger().info('%s was stopped to make room: starting it again',
                                      self.name)
                elif job is not None and job.ended:   # launched, then it exited by itself
                    _warn_exited(self.name, job)
                elif job is None:                     # else: another caller is launching it
                    get_logger().warning('%s was not started: starting it on first call',
                                         self.name)
                self._restart_self()
        return dep

    def _restart_self(self) -> None:
        """Start again under the lifecycle lock (held by the caller)."""
        dep, life = self._deployment, self._life
        self._start_self()
        if dep.state not in ('running', 'attached'):   # stopped by a share meanwhile
            dep.start()
        life.started = True
        life.stopped.clear()

    def _recover(self, dep: Deployment, generation: int) -> None:
        """After a call leased at ``generation`` found its engine dead: restart it, once for
        every caller that saw it die. The first caller restarts (one warning, naming the dead
        engine's log); the others wait on the lock and find a newer generation running."""
        with self._life.lock:
            if dep.generation != generation and dep.state in ('running', 'attached'):
                return
            job = dep.job
            if job is not None and job.ended:
                _warn_exited(self.name, job)
            self._restart_self()

    def _engine_call(self, call: Callable[[Lease], Any]) -> Any:
        """``call(lease)``; when the engine died under it, restart and retry once (a
        non-streamed call has given the caller nothing yet, so it is safe to send again)."""
        dep = self._ready()
        with dep.lease() as lease:
            try:
                return call(lease)
            except EndpointError as e:
                if not dep.engine_lost(lease.generation, e):
                    raise
        self._recover(dep, lease.generation)
        with dep.lease() as lease:
            return call(lease)

    async def _aengine_call(self, call: Callable[[Lease], Any]) -> Any:
        """The async twin of ``_engine_call``: ``await call(lease)``, restarted and
        retried once when the engine died under it (the waits run in a worker thread)."""
        import asyncio
        dep = self._ready()
        with dep.lease(asynchronous=True) as lease:
            try:
                return await call(lease)
            except EndpointError as e:
                if not await asyncio.to_thread(dep.engine_lost, lease.generation, e):
                    raise
        await asyncio.to_thread(self._recover, dep, lease.generation)
        with dep.lease(asynchronous=True) as lease:
            return await call(lease)

    # -- capabilities (see _generation.py) --------------------------------------------------
    def _model_type(self) -> ModelType | None:
        dep = self._deployment
        return dep.type or (model_type(dep.model) if dep.model else None)

    @property
    def supports_streaming(self) -> bool:
        return self._model_type() in (None, ModelType.LLM, ModelType.VLM)

    @property
    def supports_image_input(self) -> bool:
        return self._model_type() == ModelType.VLM

    @property
    def max_context_length(self) -> int | None:
        """The engine's context length once started (its /v1/models card), else the model
        folder's own (config.json)."""
        return self._deployment.context_length()

    # -- calls: the model types that do not chat, then the one chat path ----------------------
    def _typed(self, args: tuple, kw: dict) -> Callable[[Lease], Any] | None:
        return _typed_call(self._ready(), args, kw)

    def forward(self, *args: Any, **kw: Any) -> Any:
        call = self._typed(args, kw)
        if call is not None:
            return self._engine_call(call)
        return super().forward(_single(args), **kw)

    async def aforward(self, *args: Any, **kw: Any) -> Any:
        call = self._typed(args, kw)
        if call is not None:
            return await self._aengine_call(call)
        return await super().aforward(_single(args), **kw)

    def stream_forward(self, *args: Any, **kw: Any) -> Iterator[Any]:
        if self._ready().type in _TYPED_CALLS:      # one answer, not a text stream
            yield self.forward(*args, **kw)
            return
        yield from super().stream_forward(_single(args), **kw)

    async def astream(self, *args: Any, **kw: Any) -> AsyncIterator[Any]:
        if self._ready().type in _TYPED_CALLS:      # one answer, not a text stream
            yield await self.aforward(*args, **kw)
            return
        async for piece in super().astream(_single(args), **kw):
            yield piece

    # -- where chat requests go: this module's deployment (see ChatModule) -------------------
    def _route(self, kw: dict) -> Deployment:
        dep = self._ready()
        if dep.type is not None and dep.type not in (ModelType.LLM, ModelType.VLM):
            raise InputError(f'chat() is for LLMs; this is a {dep.type} model: call the module '
                             f'itself, e.g. m(texts).')
        return dep

    def _prepare(self, input: Any, kw: dict) -> tuple[list, dict, Deployment]:
        """The request as the serving engine reads its fields (``Engine.request_adapter``)."""
        messages, params, dep = super()._prepare(input, kw)
        return messages, dep.adapt_request(params, self._adapter or dep.adapter), dep

    def _send(self, messages: list, params: dict, dep: Deployment) -> ChatResult:
        return self._engine_call(lambda lease: lease.client.chat(
            messages, model=self._model_name(lease), **params))

    async def _asend(self, messages: list, params: dict, dep: Deployment) -> ChatResult:
        return await self._aengine_call(lambda lease: lease.client.chat(
            messages, model=self._model_name(lease), **params))

    def _send_stream(self, messages: list, params: dict,
                     dep: Deployment) -> Iterator[ChatDelta]:
        for attempt in (1, 2):  # a stream that died before its first output is sent again
            began = False
            with dep.lease() as lease:
                try:
                    for delta in lease.client.stream_chat(
                            messages, model=self._model_name(lease), **params):
                        began = began or _is_output(delta)
                        yield delta
                    return
                except EndpointError as e:    # after output began: StreamInterrupted
                    if began or attempt == 2 or not dep.engine_lost(lease.generation, e):
                        raise
            self._recover(dep, lease.generation)

    async def _asend_stream(self, messages: list, params: dict,
                            dep: Deployment) -> AsyncIterator[ChatDelta]:
        import asyncio
        for attempt in (1, 2):  # a stream that died before its first output is sent again
            began = False
            with dep.lease(asynchronous=True) as lease:
                try:
                    async for delta in lease.client.stream_chat(
                            messages, model=self._model_name(lease), **params):
                        began = began or _is_output(delta)
                        yield delta
                    return
                except EndpointError as e:    # after output began: StreamInterrupted
                    if began or attempt == 2 or \
                            not await asyncio.to_thread(dep.engine_lost, lease.generation, e):
                        raise
            await asyncio.to_thread(self._recover, dep, lease.generation)

    def _repr_head(self) -> str:
        base = super()._repr_head()[len(type(self).__name__) + 1:-1]
        model = os.fspath(self._base_model) or self._deployment.given_url or ''
        parts = [repr(model)] + ([base] if base else [])
        return f'TrainableModule({", ".join(parts)}) [{self._deployment.state}]'


def _is_output(delta: ChatDelta) -> bool:
    """Whether the caller has seen output once ``delta`` is yielded (after that a broken
    stream cannot be sent again without repeating it)."""
    return bool(delta.content or delta.reasoning_content or delta.tool_calls)


def _warn_exited(name: str, job: Any) -> None:
    get_logger().warning('the engine of %s exited (code %s, log: %s): starting it again',
                         name, job.returncode, job.log_path)


def _stt_call(client: Any, model: str | None, *args: Any, **kw: Any) -> Any:
    """``POST audio/transcriptions`` of one audio input (a path, bytes or (filename, bytes)),
    as OnlineMultiModalModule sends it."""
    from ..client.protocols.media import audio_file
    from ..client.protocols.openai import transcribe
    if len(args) != 1:
        raise InputError(f'a speech-to-text model takes one audio input (a path, bytes or '
                         f'(filename, bytes)), got {len(args)} positional arguments.')
    params = check_sampling(kw, frozenset({'language', 'prompt', 'temperature'}))
    return transcribe(audio_file(args[0]), model, params, None)(client)


def _classify_call(client: Any, model: str | None, input: Any, **kw: Any) -> Any:
    """{'label', 'score', 'scores'} for a str, a list of them for a list of str."""
    return then(client.classify(input, model=model, **kw),
                lambda out: out[0] if isinstance(input, str) else out)


# the model types whose call is not a chat: type -> call(client, served name, *args, **kw),
# which returns the answer for a sync client and an awaitable for an async one
_TYPED_CALLS: dict[ModelType, Callable[..., Any]] = {
    ModelType.EMBED: embed_call, ModelType.RERANK: rerank_call,
    ModelType.CLASSIFY: _classify_call, ModelType.STT: _stt_call,
}


def _typed_call(dep: Deployment, args: tuple, kw: dict) -> Callable[[Lease], Any] | None:
    """The call of ``args`` for a non-chat deployment, as a function of a lease."""
    call = _TYPED_CALLS.get(dep.type) if dep.type is not None else None
    if call is None:
        return None
    return lambda lease: call(lease.client, lease.served_name, *args, **kw)


def _single(args: tuple) -> Any:
    """The prompt of an LLM call; none at all continues a history that ends with tool
    results (``m(history=[..., tool messages])``)."""
    if len(args) > 1:
        raise InputError(f'an LLM module takes one input (a str or a dict for the prompt), '
                         f'got {len(args)} positional arguments.')
    return args[0] if args else None
