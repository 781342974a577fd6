"""``loop``: a pipeline run again and again on its own output.

::

    loop(f, g, count=3)(x)                              # g(f(g(f(g(f(x))))))
    with loop(stop_condition=lambda out: out > 10) as lp:
        lp.f1 = add_one                                 # the with block builds the body
        lp.f2 = add_one

- ``count``: the most iterations (a positive int).
- ``stop_condition(output)``: judged on each iteration's output (a package is unpacked
  into its arguments); the loop ends after the first iteration where it is true. With both,
  whichever comes first ends it. One of the two is required, so a loop always ends.
- ``judge_on_full_input=False``: each iteration returns ``package(flag_value, *rest)``;
  ``stop_condition`` judges ``flag_value`` only and ``rest`` (one value, or a package of
  several) is what the next iteration gets and what the loop returns.

Keyword arguments of the call go to the first step of the first iteration. Being a
pipeline, a loop has ``lp.input`` / ``lp.output(step)`` for ``bind``: the input is the
loop's input, outputs are those of the current iteration.
"""
from __future__ import annotations

from typing import Any, Callable, Iterator

from ...errors import InputError
from ._package import as_args, call_with, pack, package
from ._pipeline import Pipeline
from ._refs import run_frame
from ._trace import record_step_failure

__all__ = ['Loop', 'loop']


class Loop(Pipeline):
    """A repeated pipeline; see the module docstring."""

    _options = Pipeline._options + ('count', 'stop_condition', 'judge_on_full_input')

    def __init__(self, *steps: Any, count: int | None = None,
                 stop_condition: Callable[..., Any] | None = None,
                 judge_on_full_input: bool = True, **named: Any):
        super().__init__(*steps, **named)     # unknown keywords are refused first
        if count is None and stop_condition is None:
            raise InputError('loop() needs count= or stop_condition= (or both); without '
                             'either it would never end.')
        if count is not None and (not isinstance(count, int) or isinstance(count, bool)
                                  or count < 1):
            raise InputError(f'loop count must be a positive int, got {count!r}.')
        if stop_condition is not None and not callable(stop_condition):
            raise InputError('loop stop_condition must be a callable: output -> bool, got '
                             f'{type(stop_condition).__name__}.')
        if not isinstance(judge_on_full_input, bool):
            raise InputError(f'loop judge_on_full_input takes True or False, got '
                             f'{judge_on_full_input!r}.')
        self._count, self._stop = count, stop_condition
        self._judge_on_full_input = judge_on_full_input

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        value, n = pack(args), 0
        with run_frame(self, value, kwargs) as frame:
            while self._count is None or n < self._count:
                value = self._run(len(self._steps), as_args(value), kwargs if n == 0 else {},
                                  frame) if self._steps else value
                n += 1
                judged, value = self._split(value)
                if self._stop is not None and self._judge(judged):
                    break
        return value

    def stream_forward(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        """A loop's output is known only at its end: it streams as one chunk."""
        yield self.forward(*args, **kwargs)

    def _judge(self, value: Any) -> Any:
        assert self._stop is not None     # called only when a stop_condition was given
        try:
            return call_with(self._stop, value)
        except Exception as e:
            record_step_failure(e, self, 'stop_condition')
            raise

    def _split(self, output: Any) -> tuple[Any, Any]:
        """(what stop_condition judges, what the next iteration gets)."""
        if self._judge_on_full_input:
            return output, output
        if not (isinstance(output, package) and len(output) >= 2):
            raise InputError('a loop with judge_on_full_input=False needs every iteration to '
                             'return package(value_to_judge, output, ...); the last step '
                             f'returned {type(output).__name__} {output!r}.')
        return output[0], pack(tuple(output[1:]))

    def _repr_head(self) -> str:
        parts = [f'count={self._count}'] if self._count else []
        if self._stop is not None:
            parts.append(f'stop_condition={getattr(self._stop, "__qualname__", "…")}')
        return f'Loop({", ".join(parts)})'


loop = Loop
