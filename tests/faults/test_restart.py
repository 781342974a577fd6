"""Restart under concurrency: an engine killed while 8 threads call one share restarts ONCE,
the callers that were waiting retry once, and nobody sees an exception outside lazyllm's tree.

Real engine processes (the tiny Qwen2), real SIGKILLs of the engine's process group.
"""
import collections
import logging
import os
import signal
import threading
import time

import pytest

import lazyllm
from lazyllm.errors import LazyLLMError, StreamInterrupted
from tests.support.procs import group, wait_until

CALLERS = 8


@pytest.fixture
def llm(tiny_llm_path):
    m = lazyllm.TrainableModule(tiny_llm_path).deploy_method(lazyllm.deploy.transformers,
                                                             max_batch=CALLERS)
    yield m.start()
    m.stop()


def count_launches(monkeypatch, dep):
    """The jobs launched from now on (wraps the real launcher class's launch: a restart gets a
    new launcher object of that class)."""
    launches = []
    cls = type(dep.launched_by)
    launch = cls.launch

    def counted(self, *args, **kw):
        job = launch(self, *args, **kw)
        launches.append(job)
        return job
    monkeypatch.setattr(cls, 'launch', counted)
    return launches


def test_sigkill_under_eight_callers_restarts_once(llm, monkeypatch, caplog):
    share = llm.share(temperature=0)
    dep = llm.deployment
    old = dep.job
    launches = count_launches(monkeypatch, dep)
    ok_after, errors, foreign = collections.Counter(), collections.Counter(), []
    killed, stop = threading.Event(), threading.Event()

    def caller(i):
        while not stop.is_set():
            try:
                share(f'caller {i} says hello', max_tokens=8)
                if killed.is_set():
                    ok_after[i] += 1
            except LazyLLMError as e:
                errors[type(e).__name__] += 1
            except Exception as e:   # the bug this test is about: counted, then asserted
                foreign.append(f'{type(e).__module__}.{type(e).__name__}: {e}')
    threads = [threading.Thread(target=caller, args=(i,)) for i in range(CALLERS)]
    with caplog.at_level(logging.WARNING, logger='lazyllm'):
        for t in threads:
            t.start()
        time.sleep(1.0)                                   # traffic flows
        os.killpg(old.pid, signal.SIGKILL)                # the whole engine group, at once
        killed.set()
        assert wait_until(lambda: len(ok_after) == CALLERS, timeout=120), (ok_after, errors)
        stop.set()
        for t in threads:
            t.join(60)
    assert foreign == []
    assert len(launches) == 1, launches                   # exactly one restart
    assert dep.job is launches[0] and dep.state == 'running' and group(old.pid) == []
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, warnings
    assert str(old.log_path) in warnings[0] and 'exited' in warnings[0], warnings
    assert str(launches[0].log_path) not in warnings[0]


def test_a_stream_that_had_output_fails_with_a_lazyllm_error(llm, monkeypatch):
    dep = llm.deployment
    launches = count_launches(monkeypatch, dep)
    stream = llm.share(stream=True).stream('tell me a long story', max_tokens=480,
                                           temperature=0)
    first = next(stream)                                  # output has begun
    os.killpg(dep.job.pid, signal.SIGKILL)
    with pytest.raises(StreamInterrupted) as info:
        for _ in stream:
            pass
    assert first in info.value.received
    assert launches == []                                 # not retried behind the caller
    assert isinstance(llm('hi', max_tokens=2), str)       # the next call restarts it
    assert len(launches) == 1


def test_a_stream_not_begun_is_retried_on_the_new_engine(llm, monkeypatch):
    dep = llm.deployment
    launches = count_launches(monkeypatch, dep)
    client, generation = dep.client(), dep.generation
    os.killpg(dep.job.pid, signal.SIGKILL)
    chunks = list(llm.share(stream=True).stream('hello', max_tokens=5, temperature=0))
    assert chunks and len(launches) == 1 and dep.generation == generation + 1
    assert dep.client() is not client


def test_the_old_client_is_closed_only_after_its_last_call(llm):
    dep = llm.deployment
    with dep.lease() as lease:
        client = lease.client
        dep.stop()                                        # e.g. another caller's restart
        assert not client._http.is_closed                 # still serving this lease
    assert client._http.is_closed


def test_a_failure_of_a_living_engine_is_not_a_restart(llm, monkeypatch):
    dep = llm.deployment
    launches = count_launches(monkeypatch, dep)
    with pytest.raises(lazyllm.errors.OnlineAPIError):
        llm.share(adapter='no-such-adapter')('hi', max_tokens=2)    # the engine answers 4xx
    generation = dep.generation
    assert not dep.engine_lost(generation, lazyllm.errors.EndpointConnectError('x'))
    assert launches == [] and dep.generation == generation
