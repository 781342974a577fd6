"""ModuleBase: a callable with a lifecycle. Every lazyllm module and flow is one.

Calling a module runs its hooks around ``forward`` and applies its formatter to the output.
The lifecycle acts on the whole tree of modules reachable from a module (its submodules,
found from attributes and from flow steps):

- ``start()`` runs the deploy step of every module in the tree concurrently and returns when
  all are ready, or raises: the error itself when one module failed, else one ``StartError``
  naming every module that failed. Each module's
  deploy step runs once until ``stop()``; starting twice is cheap.
- ``stop()`` stops every module in the tree; ``restart()`` is stop then start.
- ``update()`` runs every module's update step (e.g. finetuning) then restarts the tree, every
  time it is called.
- ``wait()`` blocks until the module is stopped (Ctrl-C stops it).
- ``with m.start(): ...`` stops the tree on exit.

Subclasses override ``forward`` (``aforward`` for real async I/O behind ``acall``,
``stream_forward`` to stream), and the per-module steps
``_start_self``, ``_stop_self`` and ``_update_self``. Calls are thread-safe: a call mutates no
shared state, and hooks and formatter are swapped, never edited in place.
"""
from __future__ import annotations

import copy
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterator

from .._config import config
from ..errors import DeployError, InputError, StartError
from ._hooks import Hook, HookRun
from ._stream import StreamOptions

__all__ = ['ModuleBase']


class _Lifecycle:
    """Start/stop state of one module, shared by its views (``module | formatter``)."""
    __slots__ = ('lock', 'started', 'stopped')

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.started = False
        self.stopped = threading.Event()


class ModuleBase:
    """A callable, composable unit with a lifecycle. See the module docstring."""

    def __init__(self, *, stream: bool | dict = False, name: str | None = None):
        if name is not None and not isinstance(name, str):
            raise InputError(f'module name must be a str, got {type(name).__name__}.')
        self._stream = StreamOptions(stream)
        self._name = name
        self._hooks: tuple[Hook, ...] = ()
        self._formatter: Callable[[Any], Any] | None = None
        self._life = _Lifecycle()

    # -- identity -------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._name or type(self).__name__

    @property
    def stream_options(self) -> StreamOptions:
        return self._stream

    # -- calling --------------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f'{type(self).__name__} must implement forward(); '
                                  'subclass ModuleBase and define forward(self, *args).')

    def stream_forward(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        """Yield the output in chunks. The default yields ``forward``'s output once;
        model modules override it to yield tokens as they arrive."""
        yield self.forward(*args, **kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with HookRun(self) as hooks:
            args, kwargs = hooks.pre(args, kwargs)
            if self._stream.enabled:
                out = _join(self._stream.emit(self.stream_forward(*args, **kwargs), self))
            else:
                out = self.forward(*args, **kwargs)
            out = self._format(out)
        return hooks.post(out)

    async def aforward(self, *args: Any, **kwargs: Any) -> Any:
        """The async twin of ``forward``. This default runs ``forward`` in a worker thread;
        model modules override it with real async I/O."""
        import asyncio
        return await asyncio.to_thread(self.forward, *args, **kwargs)

    async def acall(self, *args: Any, **kwargs: Any) -> Any:
        """The async twin of calling the module: the same hooks around ``aforward`` and the
        same formatter on its output."""
        with HookRun(self) as hooks:
            args, kwargs = hooks.pre(args, kwargs)
            out = self._format(await self.aforward(*args, **kwargs))
        return hooks.post(out)

    __acall__ = acall     # LazyLLM's name

    def stream(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        """Iterate over the output as it is produced (tokens, for a model module).

        Pre-call hooks run before the first chunk; post-call hooks see the joined output.
        The formatter does not apply to chunks (it needs the whole output)."""
        chunks = []
        with HookRun(self) as hooks:
            args, kwargs = hooks.pre(args, kwargs)
            for chunk in self.stream_forward(*args, **kwargs):
                chunks.append(chunk)
                yield chunk
        hooks.post(_join(chunks))

    def _format(self, out: Any) -> Any:
        return out if self._formatter is None else self._formatter(out)

    # -- hooks and formatter --------------------------------------------------------------
    def register_hook(self, hook: Hook) -> Hook:
        """Run ``hook`` around every call of this module. Returns the hook."""
        if not all(callable(getattr(hook, m, None)) for m in ('pre_call', 'post_call',
                                                              'on_error')):
            raise InputError(f'{hook!r} is not a hook: subclass lazyllm.Hook and override '
                             'pre_call, post_call and/or on_error.')
        self._hooks = self._hooks + (hook,)
        return hook

    def remove_hook(self, hook: Hook) -> None:
        self._hooks = tuple(h for h in self._hooks if h is not hook)

    def formatter(self, formatter: Callable[[Any], Any] | None) -> 'ModuleBase':
        """Set the function applied to every output (LazyLLM's ``.formatter(f)``); ``None``
        removes it. Returns the module, so builders chain."""
        if formatter is not None and not callable(formatter):
            raise InputError('formatter must be callable, e.g. lazyllm.formatter.JsonFormatter()'
                             ', or None to remove it')
        self._formatter = formatter
        return self

    def __or__(self, formatter: Callable[[Any], Any]) -> 'ModuleBase':
        """``module | formatter``: a view of this module whose output goes through
        ``formatter`` too. The view shares the module's submodules and lifecycle; the
        original module is not changed.

        A pipeline piped into a formatter is the exception (``Pipeline.__or__``)."""
        if isinstance(formatter, ModuleBase) or not callable(formatter):
            return NotImplemented
        view = copy.copy(self)
        old = self._formatter
        view._formatter = formatter if old is None else (lambda out: formatter(old(out)))
        return view

    # -- the module tree ------------------------------------------------------------------
    def submodules(self) -> list['ModuleBase']:
        """Direct submodules: ModuleBase values of attributes, also inside lists, tuples,
        sets and dict values. Flows add their steps."""
        found: list[ModuleBase] = []
        for value in vars(self).values():
            _collect(value, found)
        return found

    def walk(self) -> list['ModuleBase']:
        """Every module of the tree rooted here, each once, parents before children."""
        seen: set[int] = set()
        order: list[ModuleBase] = []
        stack = [self]
        while stack:
            m = stack.pop()
            if id(m._life) in seen:   # a view shares its original's lifecycle: one deploy
                continue
            seen.add(id(m._life))
            order.append(m)
            stack.extend(reversed(m.submodules()))
        return order

    # -- lifecycle ------------------------------------------------------------------------
    def _start_self(self) -> None:
        """Deploy this module alone (launch an engine, connect…). Default: nothing to do."""

    def _stop_self(self) -> None:
        """Release what ``_start_self`` acquired. Default: nothing to do."""

    def _update_self(self) -> None:
        """Produce new weights or state (finetune…) before the restart. Default: nothing."""

    def _serve_update(self) -> None:
        """Serve what ``_update_self`` produced. Default: restart this module."""
        life = self._life
        with life.lock:
            if life.started:
                life.started = False
                self._stop_self()
            self._ensure_started()

    def _ensure_started(self) -> None:
        life = self._life
        with life.lock:
            if not life.started or not self._alive():
                self._start_self()
                life.started = True
                life.stopped.clear()

    def _alive(self) -> bool:
        """False when what ``_start_self`` started has died since (the next start()
        starts it again); modules that deploy nothing are always alive."""
        return True

    def _ensure_stopped(self) -> None:
        life = self._life
        with life.lock:
            if life.started:
                life.started = False
                self._stop_self()
            life.stopped.set()

    def start(self) -> 'ModuleBase':
        """Deploy every module in the tree concurrently; return when all are ready."""
        _run_all(self.walk(), '_ensure_started')
        return self

    def stop(self) -> 'ModuleBase':
        """Stop every module in the tree (children first). Safe to call twice."""
        failures: dict[str, BaseException] = {}
        for m in reversed(self.walk()):
            try:
                m._ensure_stopped()
            except Exception as e:  # keep stopping the others; report all at the end
                _add_failure(failures, m, e)
        if failures:
            lines = [f'  - {k}: {type(e).__name__}: {e}' for k, e in failures.items()]
            raise DeployError('stop() failed for:\n' + '\n'.join(lines) +
                              '\nThe other modules were stopped; see the errors above.')
        return self

    def restart(self) -> 'ModuleBase':
        return self.stop().start()

    def update(self) -> 'ModuleBase':
        """Run every module's update step concurrently (finetune…), then have each serve
        what it produced: a module serving an engine swaps it for a new one without a gap
        (TrainableModule: blue-green, see _swap.py), the others restart."""
        _run_all(self.walk(), '_update_self')
        _run_all(self.walk(), '_serve_update')
        return self

    def wait(self, timeout: float | None = None) -> bool:
        """Block until this module is stopped (or ``timeout`` seconds pass). Ctrl-C stops
        the tree and returns. Returns True when the module is stopped."""
        try:
            return self._life.stopped.wait(timeout)
        except KeyboardInterrupt:
            self.stop()
            return True

    def __enter__(self) -> 'ModuleBase':
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- display --------------------------------------------------------------------------
    def _repr_head(self) -> str:
        extra = []
        if self._name:
            extra.append(f'name={self._name!r}')
        if self._stream.enabled:
            extra.append(f'stream={self._stream!r}')
        if self._formatter is not None:
            extra.append(f'formatter={_callable_name(self._formatter)}')
        return f'{type(self).__name__}({", ".join(extra)})'

    def _repr_children(self) -> list[tuple[str, Any]]:
        return [('', m) for m in self.submodules()]

    def __repr__(self) -> str:
        return '\n'.join(_tree_lines(self, set()))


def _join(chunks: list) -> Any:
    if len(chunks) == 1:
        return chunks[0]
    if all(isinstance(c, str) for c in chunks):
        return ''.join(chunks)
    return chunks


def _collect(value: Any, found: list) -> None:
    if isinstance(value, ModuleBase):
        found.append(value)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for v in value:
            _collect(v, found)
    elif isinstance(value, dict):
        for v in value.values():
            _collect(v, found)


def _run_all(modules: list[ModuleBase], step: str) -> None:
    """Run ``step`` on every module concurrently; raise one StartError naming each failure."""
    failures: dict[str, BaseException] = {}
    workers = max(1, min(len(modules), config['max_workers']))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix='lazyllm-start') as pool:
        futures = [(m, pool.submit(getattr(m, step))) for m in modules]
        for m, fut in futures:
            error = fut.exception()
            if error is not None:
                _add_failure(failures, m, error)
    if len(failures) == 1:   # one cause: raise it as is, so `except ModelNotFoundError` works
        raise next(iter(failures.values()))
    if failures:
        raise StartError(failures)


def _add_failure(failures: dict, module: ModuleBase, error: BaseException) -> None:
    key, n = module.name, 2
    while key in failures:
        key, n = f'{module.name}#{n}', n + 1
    failures[key] = error


def _callable_name(f: Any) -> str:
    if isinstance(f, ModuleBase):
        return f._repr_head()
    return getattr(f, '__qualname__', None) or type(f).__name__


def _tree_lines(node: Any, seen: set[int]) -> list[str]:
    if not isinstance(node, ModuleBase):
        return [_callable_name(node)]
    head = node._repr_head()
    if id(node) in seen:
        return [head + ' …']
    seen = seen | {id(node)}
    lines = [head]
    children = node._repr_children()
    for i, (label, child) in enumerate(children):
        last = i == len(children) - 1
        sub = _tree_lines(child, seen)
        prefix = f'{label}: ' if label else ''
        lines.append(('└─ ' if last else '├─ ') + prefix + sub[0])
        lines += [('   ' if last else '│  ') + s for s in sub[1:]]
    return lines
