"""``loop``: run steps again and again on their own output."""
from __future__ import annotations

from typing import Any, Callable

from ...errors import InputError
from ._base import FlowBase
from ._package import call_with, pack
from ._pipeline import Pipeline

__all__ = ['Loop', 'loop']


class Loop(FlowBase):
    """``loop(f, count=3)(x) == f(f(f(x)))``. With ``stop_condition``, the loop ends after
    the first iteration whose output makes ``stop_condition(output)`` true; ``count`` then
    caps the iterations. One of the two is required, so a loop always ends."""

    def __init__(self, *steps: Callable, count: int | None = None,
                 stop_condition: Callable[..., bool] | None = None, **named: Callable):
        if count is None and stop_condition is None:
            raise InputError('loop() needs count= or stop_condition= (or both); without '
                             'either it would never end.')
        if count is not None and (not isinstance(count, int) or isinstance(count, bool)
                                  or count < 1):
            raise InputError(f'loop count must be a positive int, got {count!r}.')
        if stop_condition is not None and not callable(stop_condition):
            raise InputError('loop stop_condition must be a callable output -> bool.')
        super().__init__(*steps, **named)
        self._count, self._stop = count, stop_condition
        self._body = Pipeline(*self._steps)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        value, n = pack(args), 0
        while self._count is None or n < self._count:
            value = call_with(self._body, value, kwargs if n == 0 else None)
            n += 1
            if self._stop is not None and call_with(self._stop, value):
                break
        return value

    def _repr_head(self) -> str:
        parts = [f'count={self._count}'] if self._count else []
        if self._stop is not None:
            parts.append(f'stop_condition={getattr(self._stop, "__qualname__", "…")}')
        return f'Loop({", ".join(parts)})'


loop = Loop
