"""``pipeline``: run steps in order, each on the previous step's output."""
from __future__ import annotations

from typing import Any, Iterator

from ...errors import InputError
from ...formatter import FormatterBase
from .._base import ModuleBase
from ._base import FlowBase
from ._package import as_args, pack
from ._refs import Ref, run_frame
from ._steps import unwrap

__all__ = ['Pipeline', 'pipeline']


class Pipeline(FlowBase):
    """``pipeline(f, g, h)(x) == h(g(f(x)))``; a ``package`` output is unpacked into the
    next step's positional arguments. Keyword arguments go to the first step. An empty
    pipeline returns its input.

    ``p.input``, ``p.kwargs`` and ``p.output(step)`` refer to values of the running
    pipeline (see ``bind``). ``save_result=`` is accepted for LazyLLM compatibility and
    changes nothing: references always work."""

    _options: tuple[str, ...] = ('save_result',)

    def __init__(self, *steps: Any, save_result: bool | None = None, **named: Any):
        if save_result is not None and not isinstance(save_result, bool):
            raise InputError(f'save_result takes True or False, got {save_result!r}.')
        super().__init__(*steps, **named)

    @property
    def input(self) -> Ref:
        return Ref(self)

    @property
    def kwargs(self) -> Ref:
        return Ref(self, 'kwargs')

    def output(self, step: Any, unpack: bool = False) -> Ref:
        """The output of ``step`` (its name, its index, or the step object) in the running
        call; ``unpack=True`` spreads a package output into separate arguments."""
        if not (isinstance(step, (str, int)) or callable(step)) or isinstance(step, bool):
            raise InputError(f'output() takes a step name, an index or the step object, got '
                             f'{type(step).__name__}.')
        if not isinstance(unpack, bool):
            raise InputError(f'output(unpack=) takes True or False, got {unpack!r}.')
        return Ref(self, 'output', step, unpack=unpack)

    def __or__(self, formatter: Any) -> ModuleBase:
        """``p | formatter``: as for any module (a view whose output goes through it), but a
        ``FormatterBase``, as in LazyLLM, becomes the pipeline's last step, in place, and the
        pipeline itself is returned (so it also works inside ``with pipeline() as p``)."""
        if isinstance(formatter, FormatterBase):
            self._add_step(None, formatter)
            return self
        return super().__or__(formatter)

    def _run(self, count: int, args: tuple, kwargs: dict, frame: Any) -> Any:
        """Run the first ``count`` steps on the call's arguments."""
        value = pack(args)
        for i in range(count):
            value = self._run_step(i, *args, **kwargs) if i == 0 else \
                self._run_step(i, *as_args(value))
            frame.outputs[i] = value
        return value

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if not self._steps:
            return pack(args)
        with run_frame(self, pack(args), kwargs) as frame:
            return self._run(len(self._steps), args, kwargs, frame)

    def stream_forward(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        """Run every step but the last, then stream the last one (when it is a module)."""
        last = unwrap(self._steps[-1]) if self._steps else None
        if not isinstance(last, ModuleBase):
            yield self.forward(*args, **kwargs)
            return
        with run_frame(self, pack(args), kwargs) as frame:
            if len(self._steps) == 1:
                yield from last.stream(*args, **kwargs)
                return
            value = self._run(len(self._steps) - 1, args, kwargs, frame)
            yield from last.stream(*as_args(value))


pipeline = Pipeline
