"""``pipeline``: run steps in order, each on the previous step's output."""
from __future__ import annotations

from typing import Any, Iterator

from .._base import ModuleBase
from ._base import FlowBase
from ._bind import Ref, run_frame
from ._package import as_args, call_with, pack

__all__ = ['Pipeline', 'pipeline']


class Pipeline(FlowBase):
    """``pipeline(f, g, h)(x) == h(g(f(x)))``; a ``package`` output is unpacked into the
    next step's positional arguments. Keyword arguments go to the first step. An empty
    pipeline returns its input.

    ``p.input`` and ``p.output(name)`` refer to values of the running pipeline (see
    ``bind``)."""

    @property
    def input(self) -> Ref:
        return Ref(self)

    def output(self, step: str | int) -> Ref:
        return Ref(self, step)

    def _run(self, steps: list, args: tuple, kwargs: dict, frame: Any) -> Any:
        value = pack(args)
        for i, step in enumerate(steps):
            value = step(*args, **kwargs) if i == 0 else call_with(step, value)
            frame.outputs[i] = value
            label = self.step_label(i)
            if label:
                frame.outputs[label] = value
        return value

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if not self._steps:
            return pack(args)
        with run_frame(self, pack(args)) as frame:
            return self._run(self._steps, args, kwargs, frame)

    def stream_forward(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        """Run every step but the last, then stream the last one (when it is a module)."""
        last = self._steps[-1] if self._steps else None
        if not isinstance(last, ModuleBase):
            yield self.forward(*args, **kwargs)
            return
        with run_frame(self, pack(args)) as frame:
            if len(self._steps) == 1:
                yield from last.stream(*args, **kwargs)
                return
            value = self._run(self._steps[:-1], args, kwargs, frame)
            yield from last.stream(*as_args(value))


pipeline = Pipeline
