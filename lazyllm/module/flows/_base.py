"""FlowBase: the common part of every flow — ordered, optionally named steps.

A flow is a module whose steps are callables (modules, functions, other flows). Steps are
given positionally (or as one list), as keywords (``pipeline(a=f, b=g)``), or by
assignment inside a ``with`` block, which keeps their order::

    with pipeline() as p:
        p.clean = str.strip
        with pipeline() as p.shout:    # a flow opened inside the block is the next step
            p.shout.upper = str.upper
            p.shout.bang = lambda s: s + '!'

Keywords that are options of the flow class (``loop(count=2)``) are never steps; see
``_options``. Every flow also takes ``name=`` (shown in repr and error notes) and
``post_action=`` (called with the output after each call; its result is ignored).

Steps that are modules are the flow's submodules, so ``flow.start()`` starts them all. A
step that raises keeps its exception's type; the exception gains a note naming the flow
path (see ``_trace``).

For flow classes: add steps with ``_add_step(name, step)``, run step ``i`` with
``_run_step(i, *args, **kwargs)`` (it writes the error note), override
``_finish_building()`` to act when a with block closes, and set ``_adopts_nested_flows``
to False when a flow opened inside the block must not become a step by itself.
"""
from __future__ import annotations

import contextvars
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from ..._config import config
from ...errors import InputError
from .._base import ModuleBase
from ._building import caller_frame, close_block, open_block
from ._options import check_step_keywords, register_options
from ._package import call_with
from ._steps import StepAlias, as_step, unwrap
from ._trace import record_step_failure

__all__ = ['FlowBase', 'run_concurrently']

_RESERVED = {'input', 'output', 'kwargs', 'case', 'name'}


class FlowBase(ModuleBase):
    """Ordered steps plus the ``with``-block builder shared by all flows."""

    _options: tuple[str, ...] = ()      # keyword options the subclass's __init__ takes
    _keyword_steps = True               # may keywords name steps?
    _adopts_nested_flows = True         # does a flow opened in our with block join us?

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        register_options(cls.__name__.lower(), tuple(cls.__dict__.get('_options', ())))

    def __init__(self, *steps: Callable, name: str | None = None,
                 post_action: Callable | None = None, **named: Callable):
        super().__init__(name=name)
        object.__setattr__(self, '_building', False)
        self._modes: list[str] = []
        self._steps: list[Callable] = []
        self._step_names: dict[str, int] = {}
        self._adopted: set[int] = set()       # indexes of unnamed steps adopted by a block
        self._post_action = None if post_action is None else as_step(
            post_action, f'{type(self).__name__.lower()} post_action')
        if len(steps) == 1 and isinstance(steps[0], (list, tuple)):
            steps = tuple(steps[0])
        check_step_keywords(type(self), named, len(steps))
        for step in steps:
            self._add_step(None, step)
        for key, step in named.items():
            self._add_step(key, step)

    # -- steps ----------------------------------------------------------------------------
    def _add_step(self, name: str | None, step: Callable) -> None:
        kind = type(self).__name__.lower()
        if name is not None:
            self._check_step_name(name)
            index = self._adopted_index(step)
            if index is not None:      # `with pipeline() as p.sub:` names the adopted step
                self._adopted.discard(index)
                self._step_names[name] = index
                return
        step = as_step(step, f'{kind} step {name or len(self._steps)}')
        if any(s is step for s in self._steps):
            step = StepAlias(step)
        if name is not None:
            self._step_names[name] = len(self._steps)
        self._steps.append(step)

    def _check_step_name(self, name: str) -> None:
        if not isinstance(name, str) or not name.isidentifier():
            raise InputError(f'step name {name!r} is not an identifier: use a name like '
                             "'retrieve' or 'answer_2'.")
        if name in self._step_names or name in _RESERVED:
            raise InputError(f'step name {name!r} is already used or reserved '
                             f'({sorted(_RESERVED)}): pick another name.')

    def _adopted_index(self, step: Any) -> int | None:
        for index in self._adopted:
            if self._steps[index] is step:
                return index
        return None

    def _adopt(self, flow: 'FlowBase') -> None:
        """A flow opened its with block inside ours: it is our next (unnamed) step."""
        if self._adopts_nested_flows:
            self._add_step(None, flow)
            self._adopted.add(len(self._steps) - 1)

    def _run_step(self, index: int, *args: Any, **kwargs: Any) -> Any:
        """Call step ``index``; an exception leaves with a note naming where it happened."""
        step = self._steps[index]
        try:
            return step(*args, **kwargs)
        except Exception as e:
            record_step_failure(e, self, _step_description(self.step_label(index), index, step))
            raise

    def _post_process(self, output: Any) -> Any:
        if self._post_action is not None:
            call_with(self._post_action, output)
        return output

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._post_process(super().__call__(*args, **kwargs))

    # -- the with-block builder -----------------------------------------------------------
    def __enter__(self) -> 'FlowBase':
        # `with pipeline() as p:` builds; `with p.start():` (already started) manages the
        # lifecycle like any module and stops the tree on exit.
        mode = 'life' if self._life.started else 'build'
        self._modes.append(mode)
        object.__setattr__(self, '_building', mode == 'build')
        if mode == 'build':
            parent = open_block(self, caller_frame())
            if parent is not None and parent is not self:
                parent._adopt(self)
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        mode = self._modes.pop()
        object.__setattr__(self, '_building', bool(self._modes) and self._modes[-1] == 'build')
        if mode == 'life':
            self.stop()
            return
        close_block(self)
        if exc_type is None:
            self._finish_building()

    def _finish_building(self) -> None:
        """Called when a with block that built this flow closes without error."""

    def __setattr__(self, key: str, value: Any) -> None:
        if key.startswith('_'):
            object.__setattr__(self, key, value)
        elif self._building:
            self._assign_in_block(key, value)
        else:
            raise InputError(f'cannot set {key!r} on a {type(self).__name__}: add named steps '
                             f'inside "with {type(self).__name__.lower()}() as f: f.{key} = ..."'
                             ' or pass them as keywords.')

    def _assign_in_block(self, key: str, value: Any) -> None:
        """``f.key = value`` inside the with block."""
        self._add_step(key, value)

    def __getattr__(self, key: str) -> Any:
        names = self.__dict__.get('_step_names', {})
        if key in names:
            return self._steps[names[key]]
        raise AttributeError(f'{type(self).__name__} has no step or attribute {key!r}')

    def __len__(self) -> int:
        return len(self._steps)

    @property
    def steps(self) -> list[Callable]:
        return [unwrap(s) for s in self._steps]

    def step_label(self, index: int) -> str:
        for key, i in self._step_names.items():
            if i == index:
                return key
        return ''

    def step_index(self, step: Any) -> int | None:
        """The index of ``step``: a step name, an index, or the step object itself."""
        if isinstance(step, str):
            return self._step_names.get(step)
        if isinstance(step, int) and not isinstance(step, bool):
            return step if -len(self._steps) <= step < len(self._steps) else None
        return next((i for i, s in enumerate(self._steps) if s is step), None)

    def submodules(self) -> list[ModuleBase]:
        found = [s for s in self._steps if isinstance(s, ModuleBase)]
        if isinstance(self._post_action, ModuleBase):
            found.append(self._post_action)
        return found

    def _repr_children(self) -> list[tuple[str, Any]]:
        return [(self.step_label(i), unwrap(s)) for i, s in enumerate(self._steps)]


def _step_description(label: str, index: int, step: Any) -> str:
    """``step 'f2' (pipeline)`` / ``step 1``: a step by name (else index), and its kind
    when the step is itself a flow (the path of an error, ``_trace``)."""
    text = f'step {label!r}' if label else f'step {index}'
    inner = unwrap(step)
    if isinstance(inner, FlowBase):
        text += f' ({type(inner).__name__.lower()})'
    return text


def run_concurrently(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run thunks in threads, each in a copy of the caller's context (so bind references
    and stream listeners work inside), and return their results in order. The first error
    is raised after all finished."""
    if len(calls) <= 1:
        return [c() for c in calls]
    workers = max(1, min(len(calls), config['max_workers']))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix='lazyllm-flow') as pool:
        futures = [pool.submit(contextvars.copy_context().run, c) for c in calls]
        return [f.result() for f in futures]
