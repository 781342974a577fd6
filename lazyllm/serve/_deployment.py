"""Deployment: one model served by one engine at one URL, shared by a module and its shares.

A Deployment either launches an engine (resolve the model folder, read its type, pick and
check the engine, launch it through a launcher, wait until ``/health`` answers) or attaches
to a URL someone else runs (normalize it, probe it once). Both end with a URL that speaks
the OpenAI protocol, and a client for it. ``start()`` is idempotent and locked, so any number
of shares starting at once launch one engine. The constructor does no I/O.

Each launch or attach is a new *generation*; calls lease the client of theirs (``_leases``).
``engine_lost()`` tells a caller whether its failure was the engine dying, so that it
restarts and retries once (see ``TrainableModule``). ``launch_engine`` and ``take`` are the
two halves of a launch, apart so that a blue-green swap (``_swap``) can launch while the old
engine keeps serving.
"""
from __future__ import annotations

import inspect
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from .._config import config
from .._log import get_logger
from ..deploy import DRAIN_ENV, TOKEN_ENV, AutoEngine, Engine, get_engine, new_token
from ..errors import DeployError, EndpointError, InputError, OnlineAPIError
from ..hub import ModelType, folder_context_length, holds_gguf, model_type, resolve_model
from ._leases import Clients, Lease
from ._plan import Plan, engine_for, preflight
from ._readiness import PROBE_TIMEOUT, check_identity, wait_ready

__all__ = ['Deployment', 'Launched', 'Lease']


_EXIT_NOTICE = 3.0   # seconds a failed call waits for its engine's job to be seen ended


class Deployment(Clients):
    """See the module docstring. ``state`` is 'stopped', 'running', 'attached' or 'failed'."""

    def __init__(self, model: str | os.PathLike | None = None, *, type: Any = None,
                 trust_remote_code: bool = False, source: str | None = None, **how: Any):
        self.model = os.fspath(model) if model else ''
        self.source = source              # the hub tried first when the model is downloaded
        self.type = ModelType.parse(type) if type else None
        self.trust_remote_code = trust_remote_code
        self.state, self.url, self.served_name, self.job = 'stopped', None, None, None
        self.launched_by: Any = None      # the launcher of ``job``
        self.served_by: Engine | None = None   # the engine row ``job`` runs
        self._adapt: Any = None           # its Engine.request_adapter (None: fields as given)
        self.evicted = False              # stopped to make room (_pool.py); restarts on use
        self.adapter: str | None = None   # a LoRA adapter served by name, called by default
        self._mix: str | None = None      # the engine's default adapter set by the last launch
        self._context: tuple = (None, None)   # (url, context length) read from that engine
        self.named: Any = None            # the registry row it stands for (_named.Named)
        self.deploy_name: str | None = None   # served as this model id (folder name: alias)
        self.on_launch: Any = None        # called with the job once launched, before ready
        self._cancel = threading.Event()  # cancel_start(): the launch in progress gives up
        self._lock = threading.RLock()
        self.swap_lock = threading.Lock()  # one blue-green swap at a time (_swap.py)
        self.generation = 0               # +1 at each launch or attach that became ready
        self.token: str | None = None     # the launch token its engine answers with
        self.memory_plan: Any = None      # the planner's verdict of the last launch (_plan)
        self._init_clients()
        self.configure(**how)

    def configure(self, *, engine: 'str | Engine | AutoEngine | None' = None,
                  options: dict | None = None, url: str | None = None, launcher: Any = None,
                  port: int | None = None, python: str | None = None,
                  api_key: str | None = None) -> 'Deployment':
        """Choose how to serve (engine, options, launcher, port…) or where to attach (url).
        Changes this object in place, so every share holding it follows."""
        with self._lock:
            if self.state in ('running', 'attached'):
                raise InputError('cannot change how a started model is deployed: call stop() '
                                 'first.')
            return self.reconfigure(engine=engine, options=options, url=url,
                                    launcher=launcher, port=port, python=python,
                                    api_key=api_key)

    def reconfigure(self, *, engine: Any, options: dict | None, url: str | None,
                    launcher: Any, port: int | None, python: str | None,
                    api_key: str | None) -> 'Deployment':
        """``configure`` in any state: a swap (``_swap``) changes a running deployment this
        way, then launches the engine of its new configuration."""
        if port is not None and (isinstance(port, bool) or not isinstance(port, int)
                                 or not 0 < port < 65536):
            raise InputError(f'port must be an int between 1 and 65535, got {port!r}.')
        engine = engine if isinstance(engine, AutoEngine) or engine is None \
            else get_engine(engine)
        options = dict(options or {})
        if isinstance(engine, Engine):
            options = engine.validate(options)
            if self.trust_remote_code and 'trust_remote_code' in engine.options:
                options['trust_remote_code'] = True
        with self._lock:
            if self.state not in ('running', 'attached'):
                self.token = None             # a token belongs to one engine
            self.engine, self.options = engine, options
            self.given_url, self.launcher, self.port = url, launcher, port
            self.python, self._api_key = python, api_key
        return self

    def use(self, *, model: str | None = None, options: dict | None = None,
            adapter: str | None = None) -> None:
        """Serve other weights from the next start: a new model folder, or engine options
        with a LoRA ``adapter`` that calls use by default. ``update()`` calls this, then
        restarts; every share holds this object, so all of them follow."""
        with self._lock:
            if model is not None:
                self.model = model
            if options is not None:
                self.options = self.engine.validate(options) \
                    if isinstance(self.engine, Engine) else dict(options)
            self.adapter = adapter

    # what a swap changes, and puts back when the new engine fails to start
    _SETTINGS = ('model', 'type', 'engine', 'options', 'given_url', 'launcher', 'port',
                 'python', '_api_key', 'adapter', '_mix')

    def settings(self) -> dict:
        """How this deployment serves (model, engine, options, adapter…), as ``restore``
        takes it back."""
        with self._lock:
            return {k: getattr(self, k) for k in self._SETTINGS}

    def restore(self, settings: dict) -> None:
        with self._lock:
            for k, v in settings.items():
                setattr(self, k, v)

    # -- lifecycle ------------------------------------------------------------------------
    @property
    def state(self) -> str:
        """'failed' too when the launched engine has exited by itself since it was ready."""
        if self._state == 'running' and self.job is not None and self.job.ended:
            return 'failed'
        return self._state

    @state.setter
    def state(self, value: str) -> None:
        self._state = value

    def start(self, *, detach: bool = False) -> 'Deployment':
        """Launch (or attach). ``detach``: the engine outlives this interpreter (a named
        deployment started with ``start(name=…, detach=True)``)."""
        with self._lock:
            if self.state in ('running', 'attached'):
                return self
            if self.job is not None:   # the engine died: drop its job and clients first
                self.stop()
            if self.given_url:
                self._attach()
            elif self.model:
                self._launch(detach)
            else:
                raise InputError('nothing to deploy: give a model, e.g. '
                                 "TrainableModule('/models/SmolLM2-135M-Instruct'), or a URL "
                                 "with deploy_method(lazyllm.deploy.auto, url='http://h:p/v1/').")
            return self

    def stop(self, force: bool = False) -> None:
        """End the engine this process launched, or detach from one it attached to. A named
        deployment started detached is left running, and so is an attached one, unless
        ``force``: then its engine ends wherever it was launched."""
        from ._named import end_engine, stop_named
        from ._pool import pool
        with self._lock:
            pool.discard(self)
            named, ended = self.named, False
            if self.job is not None:
                if named is not None and named.detached and not force:
                    get_logger().info('leaving %r running at %s', named.name, self.url)
                else:
                    self.job.stop()
                    ended = True
                self.job = None
            elif self.state == 'attached':
                if named is not None and force:
                    end_engine(named)
                    ended = True
                else:
                    get_logger().info('detaching from %s (it keeps running)', self.url)
            if named is not None:
                stop_named(named, ended=ended)
            self.named = None
            self._close_clients()
            self.state, self.url = 'stopped', None

    def cancel_start(self) -> None:
        """Make the launch in progress (in another thread, or the next one) fail now with a
        DeployError, stopping the engine it launched: ``lazyllm deploy`` ended by SIGTERM
        stops its engine at once instead of when it has loaded."""
        self._cancel.set()

    def _check_cancel(self) -> None:
        if self._cancel.is_set():
            self._cancel.clear()
            raise DeployError(f'the start of {self.model} was cancelled (the deploying process '
                              'was asked to stop); the engine it launched was stopped.')

    def evict(self) -> None:
        """Stop the engine to free its memory; the module's next call starts it again."""
        with self._lock:
            self.stop()
            self.evicted = True

    @property
    def api_key(self) -> str | None:
        return self._api_key or config['engine_api_key']

    # -- attaching to a URL ---------------------------------------------------------------
    def attach_url(self, url: str, token: str | None = None) -> None:
        """Attach to ``url`` for this start only (a named deployment found in the registry,
        whose engine must answer with its launch ``token``); the next start decides again.
        An engine this deployment had launched and that has ended is forgotten."""
        with self._lock:
            if self.job is not None and self.job.ended:
                self.job = None
            self.token = token or None
            self._attach(url)

    def _attach(self, url: str | None = None) -> None:
        """Probe the URL once (its model card); with a known launch token (a named
        deployment), the engine must answer with it."""
        from ..client import Client, normalize_base_url
        target = url or self.given_url
        assert target is not None     # callers pass a URL, or have checked given_url
        base = normalize_base_url(target)
        probe = Client(base, self.api_key, timeout=PROBE_TIMEOUT, max_retries=0)
        try:
            cards = probe.request('GET', 'models').get('data') or []
            if self.token:
                check_identity(base, self.token)
        except EndpointError as e:
            raise EndpointError(f'cannot attach to {base}: GET {base}models failed '
                                f'({e}). Check that the engine runs and the URL is right.',
                                url=base) from e
        finally:
            probe.close()
        card = cards[0] if cards and isinstance(cards[0], dict) else {}
        self.served_name = card.get('id')
        if self.type is None:
            kind = card.get('kind')
            name = self.served_name or ''
            self.type = ModelType.parse(kind) if kind else model_type(name)
        self._close_clients()                 # they call the engine attached before, if any
        self.url, self.state = base, 'attached'
        self.generation += 1
        get_logger().info('attached to %s (model %s)', base, self.served_name)

    # -- launching an engine --------------------------------------------------------------
    def target(self) -> tuple[Path, Engine, dict]:
        """(model folder, engine, checked options) that a launch would use; resolves (and may
        download) the model, after the planner has checked that a model which is not local
        yet would fit. The registry hashes this to tell configurations apart."""
        self.preflight(before_download=True)
        folder = resolve_model(self.model, source=self.source,
                               quantization=self.options.get('quantization'))
        self.type = self.type or model_type(folder)
        engine = engine_for(self.engine, self.type, holds_gguf(folder), folder)
        return folder, engine, engine.validate(self.options)

    def preflight(self, *, before_download: bool = False) -> 'Plan | None':
        """The memory planner's verdict for this deployment (serve/_plan.py): a WontFitError
        when the model cannot fit where it would run. ``before_download``: only for a
        model that is not local yet (one that is, is checked as it launches)."""
        return preflight(self, before_download=before_download)

    def _launch(self, detach: bool = False) -> None:
        launched = self.launch_engine(detach)   # a bad configuration: refused, still stopped
        try:
            self.wait_engine(launched)
        except BaseException:                   # the engine itself failed
            self.state, self.token = 'failed', None
            raise
        self.take(launched)

    def launch_engine(self, detach: bool = False) -> 'Launched':
        """Launch an engine for the current configuration (checked first: a bad one raises
        before any process starts), without touching the engine this deployment serves from
        now: ``wait_engine`` waits until it is ready and ``take`` switches to it (a blue-green
        swap launches while the old engine keeps answering)."""
        from ..launch import HOST, NEED_ENV, OWN_PORT, PORT, get_launcher
        folder, engine, options = self.target()
        plan = self.memory_plan = self.preflight()   # refused before any process starts
        if plan is not None and plan.engine == engine.name:
            options = plan.options  # with the engine's memory sized to this machine
        python = (self.python or engine.default_python() or config['engine_python']
                  or sys.executable)
        engine.check_installed(python)
        launcher = get_launcher(self.launcher)
        from ._pool import pool
        pool.make_room(self)
        if self.port is not None:
            launcher.check_port(self.port)
        # a named deployment answers to its name; the folder's name stays an alias
        served_name = self.deploy_name or folder.name
        # (an engine written before aliases existed still launches, answering to the name)
        aliases = {'aliases': (folder.name,)} if served_name != folder.name and \
            'aliases' in inspect.signature(engine.argv).parameters else {}
        # where the engine runs (and so its address and a free port) is known only there:
        # the launcher fills in the placeholders (locally: now; on a cluster: on the node)
        # an engine that binds a free port itself is given 0 (no port to race for)
        port = self.port or (OWN_PORT if engine.binds_own_port else PORT)
        argv = engine.argv(str(folder), host=HOST, port=port,
                           served_name=served_name, options=options, python=python,
                           **aliases)
        env = dict(engine.env(options))
        env[DRAIN_ENV] = str(config['drain_timeout'])   # how long it finishes calls at exit
        if self.api_key:
            env[engine.api_key_env] = self.api_key
        if plan is not None and plan.fits is None:   # a cluster node: checked there
            env[NEED_ENV] = str(plan.need)
        token = new_token() if engine.reports_identity else None
        if token:
            env[TOKEN_ENV] = token
        get_logger().info('starting the %s engine for %s (%s launcher)', engine.name, folder,
                          launcher.name)
        self._check_cancel()
        job = launcher.launch(argv, env=env, name=f'{engine.name}-{folder.name}', detach=detach)
        # calls that name no adapter may go elsewhere than the base (deploy.transformers with
        # adapters=: their weighted mix); the base stays reachable by its served name
        return Launched(job, launcher, engine, token, served_name,
                        engine.default_adapter(options),
                        engine.request_adapter(str(folder), options))

    def wait_engine(self, launched: 'Launched') -> 'Launched':
        """``launched`` once its engine is ready (its ``url`` set); on failure the engine is
        stopped and a DeployError says why."""
        try:
            if self.on_launch is not None:    # e.g. record the job: stoppable while loading
                self.on_launch(launched)
            launched.url = wait_ready(launched.job, launched.engine, launched.token,
                                      what=self.model, check_cancel=self._check_cancel) + '/v1/'
        except BaseException:
            launched.job.stop()
            raise
        return launched

    def take(self, launched: 'Launched', *, swapping: bool = False) -> tuple[Any, int]:
        """Serve from the ready engine ``launched`` from now on: every new call goes to it
        (shares hold this object), calls in flight finish on the engine they started on.
        Returns the replaced engine's (job or None, generation), for ``drain``. A swap
        (``swapping``) whose deployment was stopped meanwhile stops ``launched`` instead."""
        from ._pool import pool
        with self._lock:
            if swapping and self.state not in ('running', 'attached'):
                launched.job.stop()
                raise DeployError(f'{self.model} was stopped while its new engine was '
                                  'starting: the new engine was stopped too.')
            replaced = (self.job, self.generation)
            self.job, self.launched_by, self.token = launched.job, launched.launcher, \
                launched.token
            self.served_by, self._adapt = launched.engine, launched.adapt
            self.url, self.served_name, self.state, self.evicted = \
                launched.url, launched.served_name, 'running', False
            if self.adapter is None or self.adapter == self._mix:
                self.adapter = launched.mix
            self._mix = launched.mix
            self._close_clients()
            self.generation += 1
        pool.add(self)
        return replaced

    def adapt_request(self, params: dict, adapter: str | None = None) -> dict:
        """A chat call's request fields, for a call to ``adapter`` (None: the base), as the
        engine serving now reads them (see ``Engine.request_adapter``); as given for an
        engine that takes OpenAI's."""
        adapt = self._adapt
        return adapt(params, adapter) if adapt is not None else params

    def context_length(self) -> int | None:
        """Tokens the model takes: the running engine's ``max_model_len`` (its /v1/models
        card), else the model folder's config.json; None when neither says."""
        url = self.url
        if url is not None and self._context[0] == url:   # asked once per engine
            return self._context[1]
        length = None
        if url is not None:
            try:
                cards = self.client().request('GET', 'models').get('data') or []
            except EndpointError:
                cards = []
            length = next((int(c['max_model_len']) for c in cards
                           if isinstance(c, dict) and c.get('max_model_len')), None)
        length = length or folder_context_length(self.model)
        if url is not None:
            self._context = (url, length)
        return length

    def engine_lost(self, generation: int, error: BaseException) -> bool:
        """Whether ``error``, raised by a call leased at ``generation``, means the engine of
        that generation is gone (so a restart, then one retry, can answer it): the engine has
        been replaced since, or the error is not an HTTP answer and its job has ended (waited
        for a moment: a watchdog notices its engine's death within half a second), or the
        memory pool stopped it to make room, or, for a deployment attached by name, the
        registry row has moved to another engine."""
        if not isinstance(error, EndpointError) or isinstance(error, OnlineAPIError):
            return False        # the engine answered (4xx/5xx): it lives
        deadline = time.monotonic() + _EXIT_NOTICE
        while True:
            with self._lock:
                if self.generation != generation or self.evicted:
                    return True     # replaced, or stopped to make room: started again
                job, named = self.job, self.named
            if job is None:     # attached: the engine of a name may have been swapped
                return named is not None and self._follow(generation)
            if job.ended:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)

    def _follow(self, generation: int) -> bool:
        """Attach to the engine the registry now names for this (attached, named)
        deployment, when a swap has moved the name since ``generation`` was leased."""
        from ._named import follow
        with self._lock:
            return self.generation != generation or follow(self)
    def __repr__(self) -> str:
        engine = getattr(self.engine, 'name', 'auto')
        where = self.url or self.given_url or '-'
        return f'<Deployment {self.model or "(url)"} engine={engine} {self.state} {where}>'

class Launched:
    """An engine launched for a deployment (see ``Deployment.launch_engine``): its job, the
    launcher that ran it, the engine row it runs, its launch token, the name it answers
    to, its default adapter, and its URL once ready."""
    __slots__ = ('job', 'launcher', 'engine', 'token', 'served_name', 'mix', 'adapt', 'url')

    def __init__(self, job: Any, launcher: Any, engine: Engine, token: str | None,
                 served_name: str, mix: str | None, adapt: Any = None):
        self.job, self.launcher, self.engine, self.token = job, launcher, engine, token
        self.served_name, self.mix, self.adapt, self.url = served_name, mix, adapt, ''
