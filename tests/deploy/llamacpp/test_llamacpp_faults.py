"""Faults on a real llama-server: a killed engine is restarted and the next call answers as
before; a stream its client drops frees its slot at once and fails no other call."""
import concurrent.futures as cf
import os
import re
import signal

import httpx
import pytest

import lazyllm
from tests.support.procs import group, wait_until

GEO = 'You are a concise geography teacher.'
QUESTION = 'What is the capital of France?'
STORY = 'Write a long story about a dragon who learns to cook. Describe every dish.'


@pytest.fixture
def llm(smollm_gguf):
    m = lazyllm.TrainableModule(smollm_gguf).deploy_method(lazyllm.deploy.llamacpp,
                                                           parallel=2, ctx_size=4096)
    yield m.start()
    m.stop()


def processing(module) -> float:
    """Requests the server is working on now (its Prometheus gauge)."""
    text = httpx.get(module.url.rsplit('/v1', 1)[0] + '/metrics', timeout=10).text
    return float(re.search(r'^llamacpp:requests_processing (\S+)$', text, re.M)[1])


def test_a_killed_engine_restarts_and_answers_as_before(llm):
    geo = llm.share(prompt=GEO, temperature=0, max_tokens=40)
    before = geo(QUESTION)
    old = llm.deployment.job
    os.killpg(old.pid, signal.SIGKILL)
    assert geo(QUESTION) == before == 'The capital of France is Paris.'
    assert llm.deployment.job is not old and llm.deployment.state == 'running'
    assert group(old.pid) == []


def test_a_dropped_stream_frees_its_slot_and_fails_no_other_call(llm):
    geo = llm.share(prompt=GEO, temperature=0, max_tokens=40)
    story = llm.share(temperature=0, max_tokens=1500)     # ~20 s of decoding if not stopped
    with cf.ThreadPoolExecutor(1) as pool:
        stream = story.stream(STORY)
        assert next(stream) and next(stream)           # generating
        other = pool.submit(geo, QUESTION)             # the second slot, meanwhile
        stream.close()                                 # the client goes away mid-answer
        assert other.result(timeout=120) == 'The capital of France is Paris.'
    assert wait_until(lambda: processing(llm) == 0, timeout=5)   # not decoding for nobody
    assert geo(QUESTION) == 'The capital of France is Paris.'
