"""``barrier``: a step that makes the branches of a running parallel wait for each other.

Put ``barrier`` in the pipelines of a ``parallel`` (or ``diverter``, ``warp``)::

    parallel(pipeline(load, barrier, use),
             pipeline(load, barrier, use))

Each branch stops at its k-th barrier until every branch of the enclosing parallel has
reached its own k-th barrier *or finished*: a branch with fewer barriers, or one that
raised, never blocks the others. The barrier returns its input unchanged (a ``package``
stays a package), so it can sit anywhere in a pipeline.

A barrier belongs to the innermost running parallel; one outside any parallel, in a
``parallel.sequential`` (whose branches cannot wait for each other: they run one after the
other) or in a graph node passes its input through without waiting.

Why a phaser and not ``threading.Barrier``: a fixed-party barrier deadlocks as soon as one
branch has fewer barriers than another, or fails before reaching one.
"""
from __future__ import annotations

import contextvars
import threading
from typing import Any, Callable

from ...errors import InputError
from ._package import pack

__all__ = ['barrier', 'Phaser', 'in_branch', 'outside_branches']


class Phaser:
    """Barrier phases for ``parties`` branches run by a pool of ``workers`` threads.

    Branch i passes its k-th barrier when every branch has reached k barriers or is done.
    If branches are waiting for a branch that can never start (every thread of the pool is
    held by a waiting branch), waiting is impossible: the barrier raises ``InputError``
    instead of hanging."""

    def __init__(self, parties: int, workers: int):
        self._parties, self._workers = parties, workers
        self._reached = [0] * parties          # barriers reached by each branch
        self._state = ['pending'] * parties    # pending -> running -> done
        self._waiting = 0
        self._stalled = False
        self._cond = threading.Condition()

    def start(self, index: int) -> None:
        with self._cond:
            self._state[index] = 'running'
            self._cond.notify_all()

    def finish(self, index: int) -> None:
        with self._cond:
            self._state[index] = 'done'
            self._cond.notify_all()

    def arrive(self, index: int) -> None:
        """Block branch ``index`` at its next barrier until the phase is complete."""
        with self._cond:
            self._reached[index] += 1
            phase = self._reached[index]
            self._cond.notify_all()
            self._waiting += 1
            try:
                while not self._phase_complete(phase):
                    if self._stalled or self._cannot_progress():
                        self._stalled = True
                        self._cond.notify_all()
                        raise InputError(self._stall_message())
                    self._cond.wait()
            finally:
                self._waiting -= 1

    def _phase_complete(self, phase: int) -> bool:
        return all(n >= phase or s == 'done' for n, s in zip(self._reached, self._state))

    def _cannot_progress(self) -> bool:
        pending = self._state.count('pending')
        running = self._state.count('running')
        return pending > 0 and running == self._waiting and running >= self._workers

    def _stall_message(self) -> str:
        return (f'a barrier waits for {self._state.count("pending")} branch(es) that cannot '
                f'start: all {self._workers} threads of this parallel of {self._parties} '
                'branches are held by branches waiting at a barrier. Raise the thread limit '
                '(LAZYLLM_MAX_WORKERS, or _concurrent=) to at least the number of branches, '
                'or use fewer branches.')


# (phaser, branch index) of the innermost running parallel branch; None: no barrier waits.
_current: contextvars.ContextVar[tuple[Phaser, int] | None] = contextvars.ContextVar(
    'lazyllm_flow_barrier', default=None)


def in_branch(phaser: Phaser, index: int, call: Callable[[], Any]) -> Any:
    """Run ``call`` as branch ``index`` of ``phaser``: barriers inside wait on it."""
    token = _current.set((phaser, index))
    phaser.start(index)
    try:
        return call()
    finally:
        phaser.finish(index)
        _current.reset(token)


def outside_branches(call: Callable[[], Any]) -> Any:
    """Run ``call`` where barriers pass through (sequential branches, graph nodes)."""
    token = _current.set(None)
    try:
        return call()
    finally:
        _current.reset(token)


def barrier(*args: Any, **kwargs: Any) -> Any:
    """Wait for the other branches of the running parallel, then return the input as is."""
    if kwargs:
        raise InputError(f'barrier passes on positional values only, got keywords '
                         f'{sorted(kwargs)}: place the barrier after the step that takes them.')
    where = _current.get()
    if where is not None:
        phaser, index = where
        phaser.arrive(index)
    return pack(args)
