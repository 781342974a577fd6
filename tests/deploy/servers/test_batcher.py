"""MicroBatcher: batching, order, error propagation, max batch size, asyncio use.

A gate (a ``threading.Event``) holds the worker inside its first batch so that the requests
submitted meanwhile queue up; what the next batch contains is then deterministic.
"""
import asyncio
import threading
import time

import pytest

from lazyllm.deploy.servers._batcher import MicroBatcher


class Recorder:
    """A batch function that doubles its items, records each batch and can be held."""

    def __init__(self, fail_on=None):
        self.batches: list[list] = []
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.fail_on = fail_on

    def __call__(self, items):
        self.batches.append(list(items))
        self.entered.set()
        assert self.gate.wait(10)
        if self.fail_on is not None and self.fail_on in items:
            raise ValueError(f'cannot handle {self.fail_on}')
        return [x * 2 for x in items]


def held(fn: Recorder, **kw) -> tuple[MicroBatcher, object]:
    """A batcher whose worker is busy with a first batch ``[0]`` until ``fn.gate`` opens."""
    batcher = MicroBatcher(fn, **kw)
    first = batcher.submit([0])
    assert fn.entered.wait(5)
    return batcher, first


def test_waiting_requests_share_one_batch_in_order():
    fn = Recorder()
    batcher, first = held(fn)
    futures = [batcher.submit([i, i + 100]) for i in range(1, 6)]
    fn.gate.set()
    assert first.result(5) == [0]
    assert [f.result(5) for f in futures] == [[2 * i, 2 * i + 200] for i in range(1, 6)]
    assert fn.batches[1] == [1, 101, 2, 102, 3, 103, 4, 104, 5, 105]
    assert batcher.stats.batches == 2 and batcher.stats.requests == 6
    batcher.close()


def test_max_batch_splits_the_queue_and_a_big_request():
    fn = Recorder()
    batcher, _ = held(fn, max_batch=4)
    small = [batcher.submit([i]) for i in range(1, 4)]
    big = batcher.submit(list(range(10, 20)))
    fn.gate.set()
    assert big.result(5) == [2 * x for x in range(10, 20)]
    assert [f.result(5) for f in small] == [[2], [4], [6]]
    assert [len(b) for b in fn.batches] == [1, 4, 4, 4, 1]
    assert batcher.stats.largest_batch == 4
    batcher.close()


def test_an_error_fails_only_the_requests_of_its_batch():
    fn = Recorder(fail_on=13)
    batcher, first = held(fn, max_batch=2)
    a, bad, c = batcher.submit([11]), batcher.submit([13]), batcher.submit([15])
    fn.gate.set()
    assert first.result(5) == [0]
    for failed in (a, bad):    # 11 and 13 rode in the same batch
        with pytest.raises(ValueError, match='cannot handle 13'):
            failed.result(5)
    assert c.result(5) == [30]
    assert batcher.stats.failed_batches == 1
    assert batcher.submit([1]).result(5) == [2]     # the worker lives on
    batcher.close()


def test_a_failed_request_skips_its_remaining_items():
    fn = Recorder(fail_on=2)
    batcher, _ = held(fn, max_batch=2)
    doomed = batcher.submit([1, 2, 3, 4, 5])
    fn.gate.set()
    with pytest.raises(ValueError):
        doomed.result(5)
    batcher.close()
    assert [3, 4] not in fn.batches and [5] not in fn.batches


def test_wrong_number_of_results_is_an_error():
    batcher = MicroBatcher(lambda items: items[:-1])
    with pytest.raises(RuntimeError, match='returned 1 results for 2 items'):
        batcher.submit(['a', 'b']).result(5)
    batcher.close()


def test_cancelled_requests_are_not_computed():
    fn = Recorder()
    batcher, _ = held(fn)
    gone, kept = batcher.submit(['gone']), batcher.submit(['kept'])
    assert gone.cancel()
    fn.gate.set()
    assert kept.result(5) == ['keptkept']
    assert ['gone'] not in fn.batches and fn.batches[1] == ['kept']
    batcher.close()


def test_the_window_gathers_requests_that_arrive_soon_after_the_first():
    batches = []
    batcher = MicroBatcher(lambda xs: batches.append(xs) or xs, max_wait=0.5)
    a = batcher.submit([1])
    time.sleep(0.05)
    b = batcher.submit([2])
    assert a.result(5) == [1] and b.result(5) == [2]
    assert batches == [[1, 2]]
    batcher.close()


def test_async_callers_are_batched_and_get_their_own_results():
    def slow_double(items):
        time.sleep(0.02)
        return [x * 2 for x in items]
    batcher = MicroBatcher(slow_double, max_batch=8, max_wait=0.005)

    async def main():
        return await asyncio.gather(*(batcher.run([i]) for i in range(40)))
    assert asyncio.run(main()) == [[2 * i] for i in range(40)]
    assert batcher.stats.requests == 40 and batcher.stats.batches < 40
    assert batcher.stats.largest_batch <= 8
    batcher.close()


def test_close_finishes_queued_work_and_refuses_new_work():
    fn = Recorder()
    batcher, first = held(fn)
    queued = batcher.submit([7])
    threading.Timer(0.2, fn.gate.set).start()
    batcher.close()
    assert first.result(5) == [0] and queued.result(5) == [14]
    with pytest.raises(RuntimeError, match='closed'):
        batcher.submit([1])


def test_an_empty_request_needs_no_batch():
    batcher = MicroBatcher(lambda xs: xs)
    assert batcher.submit([]).result(1) == []
    assert batcher.stats.batches == 0
    batcher.close()
