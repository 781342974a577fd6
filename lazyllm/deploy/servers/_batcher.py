"""A micro-batcher: many concurrent requests, one model call per batch.

An encoder on a CPU computes 32 sentences in one forward pass much faster than 32 passes of
one sentence, but an HTTP server receives them as 32 separate requests. ``MicroBatcher``
joins them again: each request submits its items (texts, text pairs, …) and awaits their
results; one worker thread takes every item that is waiting (after a window of a few ms that
starts with the first item, up to ``max_batch`` items), calls ``fn`` once on the whole list
and hands each request back its own results, in the order it submitted them. Items that
arrive while a batch is computing wait for the next one, so batches grow with load by
themselves and a lone request pays only the short window.

A request bigger than ``max_batch`` is split across several batches. When ``fn`` raises,
every request with an item in that batch fails with that exception (other requests are not
affected). A request whose caller stopped waiting (client gone, future cancelled) has its
remaining items dropped before they reach ``fn``.

The worker is one thread because the model is one: calls into it are serialised anyway, and
torch parallelises inside each call. Use ``submit`` from threads (it returns a
``concurrent.futures.Future``) and ``await run(...)`` from asyncio code such as FastAPI
endpoints (``asyncio.wrap_future`` resolves the awaiting task through
``loop.call_soon_threadsafe``). This module imports nothing heavy.
"""
from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from typing import Any, Callable, Sequence

log = logging.getLogger('lazyllm.engine')


@dataclass
class Stats:
    """Counters since start: ``batches < requests`` means batching happened."""
    requests: int = 0
    items: int = 0
    batches: int = 0
    largest_batch: int = 0
    failed_batches: int = 0


@dataclass
class _Job:
    """One request: its future, its results so far and how many are still missing."""
    future: Future
    results: list
    missing: int

    def settle(self, result: Any = None, error: BaseException | None = None) -> None:
        try:  # the caller may have cancelled meanwhile: that is not the worker's problem
            if error is not None:
                self.future.set_exception(error)
            else:
                self.future.set_result(result)
        except InvalidStateError:
            pass


_STOP = object()


class MicroBatcher:
    """``fn(items) -> results`` (same length, same order) called on batches of items.

    ``max_batch``: most items per call. ``max_wait``: seconds the worker waits for more
    items after the first one of a batch arrived (when items are already queued it takes
    them without waiting). ``on_batch``, when set, is called with the size of every batch
    before it is computed, on the worker thread (the engine's batch-size metric).
    """

    def __init__(self, fn: Callable[[list], Sequence], *, max_batch: int = 32,
                 max_wait: float = 0.002, name: str = 'batcher'):
        if max_batch < 1:
            raise ValueError(f'max_batch must be >= 1, got {max_batch}')
        self.fn, self.max_batch, self.max_wait, self.name = fn, max_batch, max_wait, name
        self.stats = Stats()
        self.on_batch: Callable[[int], None] | None = None
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._work, name=f'lazyllm-{name}', daemon=True)
        self._thread.start()

    # -- callers ------------------------------------------------------------------------------
    def submit(self, items: Sequence) -> Future:
        """Queue ``items``; the future gives their results as a list in the same order."""
        future: Future = Future()
        items = list(items)
        with self._lock:
            if self._closed:
                raise RuntimeError(f'the {self.name} is closed')
            self.stats.requests += 1
            if not items:
                future.set_result([])
                return future
            job = _Job(future, [None] * len(items), len(items))
            for i, item in enumerate(items):
                self._queue.put((job, i, item))
        return future

    async def run(self, items: Sequence) -> list:
        """``submit`` for asyncio code: await the results without blocking the loop."""
        return await asyncio.wrap_future(self.submit(items))

    def close(self, timeout: float | None = 5.0) -> None:
        """Stop the worker once the items queued so far are computed (they were submitted
        before the stop mark, so none is left waiting); later ``submit`` calls raise."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(_STOP)
        self._thread.join(timeout)

    # -- the worker ---------------------------------------------------------------------------
    def _take(self) -> tuple[list, bool]:
        """Block for the first item, then gather more until the window ends or the batch is
        full. Returns the batch and whether the batcher is stopping."""
        batch: list = []
        deadline = None
        while len(batch) < self.max_batch:
            if deadline is None:
                entry = self._queue.get()
            else:
                try:
                    entry = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
            if entry is _STOP:
                return batch, True
            if entry[0].future.done():   # cancelled or already failed: skip its work
                continue
            batch.append(entry)
            if deadline is None:
                deadline = time.monotonic() + self.max_wait
        return batch, False

    def _work(self) -> None:
        stopping = False
        while not stopping:
            batch, stopping = self._take()
            if batch:
                self._compute(batch)

    def _compute(self, batch: list) -> None:
        self.stats.batches += 1
        self.stats.items += len(batch)
        self.stats.largest_batch = max(self.stats.largest_batch, len(batch))
        if self.on_batch is not None:
            self.on_batch(len(batch))
        try:
            results = list(self.fn([item for _, _, item in batch]))
            if len(results) != len(batch):
                raise RuntimeError(f'{self.name}: fn returned {len(results)} results for '
                                   f'{len(batch)} items')
        except Exception as e:  # noqa: BLE001 - the error belongs to the requests
            self.stats.failed_batches += 1
            log.warning('%s: a batch of %d items failed: %s: %s', self.name, len(batch),
                        type(e).__name__, e)
            for job in {id(job): job for job, _, _ in batch}.values():
                job.settle(error=e)
            return
        for (job, i, _), result in zip(batch, results):
            job.results[i] = result
            job.missing -= 1
            if job.missing == 0:
                job.settle(job.results)
