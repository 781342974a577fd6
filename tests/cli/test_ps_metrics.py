"""``lazyllm ps --metrics``, run as a user runs it (a subprocess, an isolated LAZYLLM_HOME)
over a real engine (the tiny random Qwen2 on the built-in LLM engine): the queue depth and
tokens per second it prints are the engine's own ``/metrics`` numbers."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx
import pytest

from tests.support.gateway import start_named, stop_leftovers
from tests.support.metrics import scrape

USER = [{'role': 'user', 'content': 'the quick brown fox'}]


@pytest.fixture(scope='module')
def home(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        folder = tmp_path_factory.mktemp('ps-metrics-home')
        mp.setenv('LAZYLLM_HOME', str(folder))
        yield folder
        stop_leftovers()


@pytest.fixture(scope='module')
def tiny(home, tiny_llm_path):
    m = start_named(tiny_llm_path, 'tiny', llm=True)
    yield m
    m.stop(force=True)


def ps(*args: str) -> str:
    out = subprocess.run([sys.executable, '-m', 'lazyllm', 'ps', *args], capture_output=True,
                         text=True, timeout=120, env=dict(os.environ))
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_ps_metrics_prints_the_engines_queue_and_tokens_per_second(home, tiny):
    from lazyllm.registry import Registry
    from lazyllm.registry._store import Record
    Registry(home / 'registry.db').put(Record(name='old', model='/models/m', engine='embedding',
                                              status='stopped', created=time.time()))
    answer = httpx.post(tiny.url.rstrip('/') + '/chat/completions', timeout=120,
                        json={'messages': USER, 'temperature': 0, 'max_tokens': 5})
    assert answer.json()['usage']['completion_tokens'] > 0
    engine = scrape(tiny.url.rstrip('/').removesuffix('/v1'))
    tokens = engine.value('lazyllm_completion_tokens_total')
    started = engine.value('process_start_time_seconds')
    before = time.time()
    rows = {r['name']: r for r in json.loads(ps('--all', '--metrics', '--json'))}
    after = time.time()
    assert rows['tiny']['queue_depth'] == 0
    rate = rows['tiny']['tokens_per_second']     # tokens over the engine's uptime at ps time
    assert tokens / (after - started) <= rate <= tokens / (before - started)
    assert rows['old']['queue_depth'] is None and rows['old']['tokens_per_second'] is None

    table = ps('--all', '--metrics').splitlines()
    assert table[0].split()[-2:] == ['QUEUE', 'TOK/S']
    tiny_row = next(line.split() for line in table if line.startswith('tiny '))
    assert tiny_row[-2] == '0' and float(tiny_row[-1]) > 0
    old_row = next(line.split() for line in table if line.startswith('old '))
    assert old_row[-2:] == ['-', '-']
    assert 'QUEUE' not in ps('--all')                  # opt-in: a plain ps scrapes nothing
