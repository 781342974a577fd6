"""``bind``: feed a step something other than the previous step's output.

Inside a pipeline, a step normally receives the previous step's output. ``bind`` fixes
some arguments of a step, and can route values from elsewhere in the pipeline::

    with pipeline() as p:
        p.f1 = retrieve
        p.f2 = rerank
        p.f3 = answer | bind(question=p.input, docs=p.f1)   # f1's OUTPUT, not f1 itself
        p.f4 = bind(cite, p.input, _0, docs=p.output('f1'))

- ``bind(f, *args, **kwargs)`` and ``f | bind(*args, **kwargs)`` are the same. When the
  ``bind`` on the right already has a function, ``f`` comes first and that function becomes
  the first argument: ``f | bind(g, x) == bind(f, g, x)``.
- ``_0``, ``_1``, … stand for the positional inputs the bound step receives. With no
  positional arguments bound, the inputs pass through positionally and only keywords are
  bound.
- ``p.input``, ``p.kwargs['k']``, ``p.output(step)`` (a name, an index or the step object)
  are values of the running pipeline ``p``; see ``_refs``. ``p.output(step, unpack=True)``
  spreads a package output into separate arguments.
- A step object of a running pipeline given as an argument (``docs=p.f1``) stands for that
  step's output in the current run, as in LazyLLM.
- A class given as the function is instantiated with no arguments, like a flow step.
"""
from __future__ import annotations

from typing import Any, Callable

from ...errors import InputError
from .._base import ModuleBase, _callable_name
from ._refs import Ref, Spread, running_frames
from ._steps import as_step

__all__ = ['bind', 'Bind', 'Placeholder', 'placeholders']


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

_NO_FUNC = object()


class Bind(ModuleBase):
    """A step with some arguments fixed; see the module docstring."""

    def __init__(self, func: Any = _NO_FUNC, *args: Any, **kwargs: Any):
        super().__init__()
        if func is not _NO_FUNC and not callable(func):
            # `x | bind(p.input, _0)`: no function yet, all arguments; `x` will be the function
            func, args = _NO_FUNC, (func,) + args
        # a callable step, or _NO_FUNC until `f | bind(...)` supplies one
        self._func: Any = func if func is _NO_FUNC else as_step(func, 'the function of bind()')
        self._args, self._kwargs = args, kwargs

    def __ror__(self, func: Callable) -> 'Bind':
        """``func | bind(...)``: a new bind of ``func`` (this bind's function, if any,
        becomes its first argument)."""
        args = self._args if self._func is _NO_FUNC else (self._func,) + self._args
        return Bind(as_step(func, 'the left side of "| bind(...)"'), *args, **self._kwargs)

    def forward(self, *inputs: Any, **call_kwargs: Any) -> Any:
        if self._func is _NO_FUNC:
            first = f' (its first argument, a {type(self._args[0]).__name__}, is not callable)' \
                if self._args else ''
            raise InputError(f'this bind(...) has no function to call{first}: write '
                             'f | bind(...) or bind(f, ...).')
        args = _spread(_resolve(a, inputs) for a in self._args) if self._args else inputs
        kwargs = {k: _resolve(v, inputs) for k, v in self._kwargs.items()}
        if any(isinstance(v, Spread) for v in kwargs.values()):
            raise InputError('output(..., unpack=True) spreads into positional arguments; '
                             'bind it positionally, not as a keyword.')
        clash = sorted(set(kwargs) & set(call_kwargs))
        if clash:
            raise InputError(f'keyword(s) {clash} are already bound by bind(): do not pass '
                             'them again when calling the bound step.')
        return self._func(*args, **kwargs, **call_kwargs)

    def submodules(self) -> list[ModuleBase]:
        return [self._func] if isinstance(self._func, ModuleBase) else []

    def _repr_head(self) -> str:
        parts = [] if self._func is _NO_FUNC else [_callable_name(self._func)]
        parts += [repr(a) for a in self._args]
        parts += [f'{k}={v!r}' for k, v in self._kwargs.items()]
        return f'bind({", ".join(parts)})'

    def _repr_children(self) -> list:
        return []


def _resolve(value: Any, inputs: tuple) -> Any:
    if isinstance(value, Placeholder):
        return value.resolve(inputs)
    if isinstance(value, Ref):
        return value.resolve()
    if callable(value):
        return _step_output(value)
    return value


def _step_output(value: Any) -> Any:
    """``value`` itself, unless it is a step of a running pipeline: then that step's
    output in the current run (the innermost pipeline holding it wins)."""
    for frame in reversed(running_frames()):
        index = frame.flow.step_index(value)
        if index is None:
            continue
        if index not in frame.outputs:
            raise InputError(f'bind() got step {index} of {frame.flow.name} (standing for its '
                             'output), but that step has not run yet: only steps before the '
                             'bound step can be referenced.')
        return frame.outputs[index]
    return value


def _spread(values: Any) -> tuple:
    out: list = []
    for v in values:
        if isinstance(v, Spread):
            out.extend(v)
        else:
            out.append(v)
    return tuple(out)


bind = Bind
