"""References to values of a running pipeline: its input, its keyword arguments, the output
of one of its steps.

``p.input``, ``p.kwargs`` and ``p.output(step)`` build a ``Ref``; ``bind`` resolves it when
the bound step runs, from the innermost running call of ``p`` in the current context. So
nested and concurrent runs each see their own values, and a reference works from any
depth of flows nested inside ``p`` (LazyLLM needs ``save_pipeline_result()`` for that; here
it always works, and ``save_pipeline_result`` is accepted and changes nothing).

A reference can be refined before use: ``p.input['idx']`` (an item), ``p.input.text`` (an
attribute), ``p.output('f1')[2:0:-1]`` (a slice). ``p.output(step, unpack=True)`` spreads a
``package`` output into separate positional arguments of the bound step.
"""
from __future__ import annotations

import contextvars
from typing import Any

from ...errors import InputError
from ._package import package

__all__ = ['Ref', 'Spread', 'run_frame', 'running_frames', 'save_pipeline_result']


class _Frame:
    """What one run of a pipeline has seen so far: input, keywords, step outputs."""
    __slots__ = ('flow', 'input', 'kwargs', 'outputs')

    def __init__(self, flow: Any, value: Any, kwargs: dict):
        self.flow, self.input, self.kwargs = flow, value, dict(kwargs)
        self.outputs: dict[Any, Any] = {}


_frames: contextvars.ContextVar[tuple[_Frame, ...]] = contextvars.ContextVar(
    'lazyllm_flow_frames', default=())


def running_frames() -> tuple[_Frame, ...]:
    """The frames of the pipelines running in this context, outermost first."""
    return _frames.get()


class run_frame:  # noqa: N801 - used as a context manager, reads like a function
    """Make a pipeline run's frame visible to ``Ref``s for the duration of a block."""

    def __init__(self, flow: Any, value: Any, kwargs: dict | None = None):
        self.frame = _Frame(flow, value, kwargs or {})

    def __enter__(self) -> _Frame:
        self._saved = _frames.get()
        _frames.set(self._saved + (self.frame,))
        return self.frame

    def __exit__(self, *exc: Any) -> None:
        _frames.set(self._saved)   # by value, so it also works inside generators


class Spread(tuple):
    """A resolved ``unpack=True`` reference: its items become separate arguments."""


class Ref:
    """A value of a running pipeline; see the module docstring."""
    __slots__ = ('_flow', '_source', '_step', '_path', '_unpack')

    def __init__(self, flow: Any, source: str = 'input', step: Any = None,
                 path: tuple = (), unpack: bool = False):
        self._flow, self._source, self._step = flow, source, step
        self._path, self._unpack = path, unpack

    def __getitem__(self, key: Any) -> 'Ref':
        return Ref(self._flow, self._source, self._step, self._path + (('item', key),),
                   self._unpack)

    def __getattr__(self, key: str) -> 'Ref':
        if key.startswith('_'):
            raise AttributeError(key)
        return Ref(self._flow, self._source, self._step, self._path + (('attr', key),),
                   self._unpack)

    def resolve(self) -> Any:
        frame = next((f for f in reversed(_frames.get()) if f.flow is self._flow), None)
        if frame is None:
            raise InputError(f'{self!r} is used outside a run of its pipeline: bind it only '
                             'in steps of that pipeline (or of flows nested inside it).')
        value = self._base_value(frame)
        for kind, key in self._path:
            value = _refine(self, value, kind, key)
        if self._unpack and isinstance(value, package):
            return Spread(value)
        return value

    def _base_value(self, frame: _Frame) -> Any:
        if self._source == 'input':
            return frame.input
        if self._source == 'kwargs':
            return frame.kwargs
        index = self._flow.step_index(self._step)
        if index is None:
            raise InputError(f'{self!r}: {self._step!r} is not a step of this pipeline: '
                             f'use a step name ({sorted(self._flow._step_names)}), an index '
                             'or the step object.')
        if index not in frame.outputs:
            raise InputError(f'{self!r} is not available yet: only steps that ran before '
                             'the bound step can be referenced.')
        return frame.outputs[index]

    def __repr__(self) -> str:
        if self._source == 'output':
            step = self._step if isinstance(self._step, (str, int)) else \
                getattr(self._step, '__name__', type(self._step).__name__)
            head = f'output({step!r}{", unpack=True" if self._unpack else ""})'
        else:
            head = self._source
        path = ''.join(f'[{k!r}]' if kind == 'item' else f'.{k}' for kind, k in self._path)
        return f'{self._flow.name}.{head}{path}'


def _refine(ref: Ref, value: Any, kind: str, key: Any) -> Any:
    try:
        return value[key] if kind == 'item' else getattr(value, key)
    except (LookupError, TypeError, AttributeError) as e:
        what = f'[{key!r}]' if kind == 'item' else f'.{key}'
        raise InputError(f'{ref!r}: cannot take {what} of a {type(value).__name__} '
                         f'({type(e).__name__}: {e}); reference a value that has it.') from e


class save_pipeline_result:  # noqa: N801 - LazyLLM's name, used as a context manager
    """Accepted for LazyLLM compatibility; changes nothing here.

    In LazyLLM, ``with lazyllm.save_pipeline_result():`` lets flows nested inside a
    pipeline bind that pipeline's input and outputs. Here they always can."""

    def __init__(self, flag: bool = True):
        if not isinstance(flag, bool):
            raise InputError(f'save_pipeline_result(flag) takes True or False, got {flag!r}.')
        self.flag = flag

    def __enter__(self) -> 'save_pipeline_result':
        return self

    def __exit__(self, *exc: Any) -> None:
        return None
