"""``bind``: feed a step something other than the previous step's output.

Inside a pipeline, a step normally receives the previous step's output. ``bind`` fixes
some arguments of a step, and can route values from elsewhere in the pipeline::

    with pipeline() as p:
        p.retrieve = retriever
        p.answer = bind(llm_with_context, p.input, _0)        # the pipeline's input, then
                                                               # this step's own input
        p.cite = bind(cite, question=p.input, answer=_0, docs=p.output('retrieve'))

- ``_0``, ``_1``, … stand for the positional inputs the bound step receives.
- ``p.input`` is the input of the enclosing run of pipeline ``p`` (``p.input[1]`` its second
  positional value); ``p.output('name')`` or ``p.output(index)`` the output of an earlier
  step of that run. They are resolved at call time from the running pipeline, so nested and
  concurrent runs each see their own values.
- With no positional arguments, ``bind(f, k=v)`` passes its inputs through positionally and
  only binds keywords.
"""
from __future__ import annotations

import contextvars
from typing import Any, Callable

from ...errors import InputError
from .._base import ModuleBase
from ._package import as_args

__all__ = ['bind', 'Bind', 'Placeholder', 'Ref', 'run_frame', 'placeholders']


class Placeholder:
    """``_i``: the i-th positional input of the bound step."""
    __slots__ = ('index',)

    def __init__(self, index: int):
        self.index = index

    def resolve(self, inputs: tuple) -> Any:
        if self.index >= len(inputs):
            raise InputError(f'_{self.index} refers to input #{self.index}, but the bound step '
                             f'received {len(inputs)} input(s): use _0.._{len(inputs) - 1}.')
        return inputs[self.index]

    def __repr__(self) -> str:
        return f'_{self.index}'


placeholders = tuple(Placeholder(i) for i in range(10))


class _Frame:
    """What one run of a pipeline has seen so far."""
    __slots__ = ('flow', 'input', 'outputs')

    def __init__(self, flow: Any, value: Any):
        self.flow, self.input, self.outputs = flow, value, {}


_frames: contextvars.ContextVar[tuple[_Frame, ...]] = contextvars.ContextVar(
    'lazyllm_flow_frames', default=())


class run_frame:  # noqa: N801 - used as a context manager, reads like a function
    """Make a pipeline run's frame visible to ``Ref``s for the duration of a block."""

    def __init__(self, flow: Any, value: Any):
        self.frame = _Frame(flow, value)

    def __enter__(self) -> _Frame:
        self._saved = _frames.get()
        _frames.set(self._saved + (self.frame,))
        return self.frame

    def __exit__(self, *exc: Any) -> None:
        _frames.set(self._saved)   # by value, so it also works inside generators


class Ref:
    """A value of a running pipeline: its input or an earlier step's output."""
    __slots__ = ('flow', 'key', 'path')

    def __init__(self, flow: Any, key: Any = None, path: tuple = ()):
        self.flow, self.key, self.path = flow, key, path   # key None: the input

    def __getitem__(self, index: Any) -> 'Ref':
        return Ref(self.flow, self.key, self.path + (index,))

    def resolve(self) -> Any:
        frame = next((f for f in reversed(_frames.get()) if f.flow is self.flow), None)
        if frame is None:
            raise InputError(f'{self!r} is used outside a run of its pipeline: bind it only '
                             'in steps of that pipeline (or of flows nested inside it).')
        if self.key is None:
            value = frame.input
        elif self.key in frame.outputs:
            value = frame.outputs[self.key]
        else:
            raise InputError(f'{self!r} is not available yet: only steps that ran before '
                             'the bound step can be referenced.')
        for index in self.path:
            value = as_args(value)[index] if isinstance(index, int) else value[index]
        return value

    def __repr__(self) -> str:
        what = 'input' if self.key is None else f'output({self.key!r})'
        return f'{self.flow.name}.{what}' + ''.join(f'[{i!r}]' for i in self.path)


def _resolve(value: Any, inputs: tuple) -> Any:
    if isinstance(value, Placeholder):
        return value.resolve(inputs)
    if isinstance(value, Ref):
        return value.resolve()
    return value


class Bind(ModuleBase):
    """A step with some arguments fixed; see the module docstring."""

    def __init__(self, func: Callable, *args: Any, **kwargs: Any):
        super().__init__()
        if not callable(func):
            raise InputError(f'bind() needs a callable first, got {type(func).__name__}.')
        self._func, self._args, self._kwargs = func, args, kwargs

    def forward(self, *inputs: Any, **call_kwargs: Any) -> Any:
        args = tuple(_resolve(a, inputs) for a in self._args) if self._args else inputs
        kwargs = {k: _resolve(v, inputs) for k, v in self._kwargs.items()}
        return self._func(*args, **kwargs, **call_kwargs)

    def submodules(self) -> list[ModuleBase]:
        return [self._func] if isinstance(self._func, ModuleBase) else []

    def _repr_head(self) -> str:
        from .._base import _callable_name
        parts = [_callable_name(self._func)] + [repr(a) for a in self._args]
        parts += [f'{k}={v!r}' for k, v in self._kwargs.items()]
        return f'bind({", ".join(parts)})'

    def _repr_children(self) -> list:
        return []


bind = Bind
