"""Replicas behind one model name: two real embedding engines (``replica_of=``) behind a
real ``lazyllm serve``; calls are spread over both, and when one is killed mid-traffic no
call fails (a call is retried on the other before any of its answer was sent)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections import Counter

import openai
import pytest

import lazyllm
from lazyllm.errors import InputError
from tests.support.gateway import ROOT, Gateway, stop_leftovers
from tests.support.procs import alive, wait_until


def deploy(*args):
    return subprocess.run([sys.executable, '-m', 'lazyllm', 'deploy', *map(str, args)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope='module')
def replicas(home, minilm_path):
    """``lazyllm deploy --replicas 2``: emb and emb-2, a replica of emb."""
    out = deploy(minilm_path, '--name', 'emb', '--replicas', '2', '--json')
    assert out.returncode == 0, out.stderr
    yield json.loads(out.stdout)
    stop_leftovers()


@pytest.fixture(scope='module')
def client(replicas):
    gw = Gateway()
    c = gw.client()
    yield c
    c.close()
    gw.stop()


def served_by(client, n):
    return Counter(client.embeddings.create(model='emb', input=[f'text {i}']).model
                   for i in range(n))


def test_one_name_two_replicas_calls_spread_over_both(client, replicas):
    assert [(r['name'], r['replica_of']) for r in replicas] == [('emb', None),
                                                                 ('emb-2', 'emb')]
    rows = {r.name: r for r in lazyllm.deployments()}
    assert rows['emb-2'].replica_of == 'emb' and rows['emb'].replica_of == ''

    cards = {m.id: m for m in client.models.list()}
    assert set(cards) == {'emb'} and cards['emb'].replicas == 2
    seen = served_by(client, 12)
    assert seen == {'emb': 6, 'emb-2': 6}, seen          # round-robin
    one = client.embeddings.create(model='emb-2', input=['x'])   # a replica by its own name
    assert one.model == 'emb-2'


def test_a_replica_killed_mid_traffic_fails_no_call(client, replicas):
    rows = {r.name: r for r in lazyllm.deployments()}
    victim = rows['emb-2'].pid
    results, errors = Counter(), []
    started = threading.Event()

    def traffic():
        for i in range(60):
            try:
                results[client.embeddings.create(model='emb', input=[f'call {i}']).model] += 1
            except openai.OpenAIError as e:     # pragma: no cover - what the test forbids
                errors.append(repr(e))
            started.set()

    worker = threading.Thread(target=traffic)
    worker.start()
    assert started.wait(60)
    os.killpg(victim, signal.SIGKILL)             # the engine dies; its row still says running
    worker.join(300)
    assert wait_until(lambda: not alive(victim), timeout=10)
    assert errors == [] and sum(results.values()) == 60, (errors, results)
    after = served_by(client, 6)                  # taken out: the live one takes every call
    assert after == {'emb': 6}, after


def test_replica_flags_are_checked_before_anything_runs(home):
    for args, said in ((['--replicas', '0'], '--replicas must be >= 1'),
                       (['--replicas', '2', '--port', '9'], 'cannot be combined with --port')):
        out = deploy('/models/m', *args)
        assert out.returncode == 2 and said in out.stderr, out.stderr


def test_replica_of_needs_a_name_of_its_own(minilm_path, home):
    m = lazyllm.TrainableModule(str(minilm_path))
    with pytest.raises(InputError, match="needs a name="):
        m.start(replica_of='emb')
    with pytest.raises(InputError, match='replica of itself'):
        m.start(name='emb', replica_of='emb')
