"""Model memory management (issue 10, item 3): a cap on live engines, least recently used
evicted and restarted transparently, unload(), switch_device()."""
from __future__ import annotations

import pytest

import lazyllm
from lazyllm.errors import DeployError, InputError
from lazyllm.launch._local import pid_alive
from lazyllm.serve._pool import memory_in_use, pool
from tests.support.procs import wait_until

GREEDY = dict(temperature=0, max_tokens=3)


def _tiny(path):
    return lazyllm.TrainableModule(str(path)).deploy_method(lazyllm.deploy.transformers)


@pytest.fixture
def three(tiny_llm_path):
    modules = [_tiny(tiny_llm_path) for _ in range(3)]
    yield modules
    for m in modules:
        m.stop()


def _running(modules):
    return [m.deployment.job is not None and m.deployment.job.status == 'running'
            for m in modules]


def test_the_least_recently_used_engine_makes_room_and_restarts_on_its_next_call(three):
    a, b, c = three
    with lazyllm.config.override(max_live_models=2):
        a.start()
        b.start()
        answer = a('hello', **GREEDY)             # a is now more recent than b
        pid_b = b.deployment.job.pid
        c.start()                                 # evicts b, the least recently used
        assert _running(three) == [True, False, True]
        assert b.deployment.evicted and wait_until(lambda: not pid_alive(pid_b), 10)
        assert b('hello', **GREEDY) == answer     # transparent restart: same weights, greedy
        assert _running(three) == [False, True, True]   # …which evicted a
        assert len(pool.live()) == 2 and pool.live()[-1] is b.deployment


def test_shares_count_as_use_of_their_deployment(three):
    a, b, c = three
    with lazyllm.config.override(max_live_models=2):
        a.start()
        b.start()
        a.share(prompt='Be brief.')('hello', **GREEDY)   # a share's call marks a used
        c.start()
        assert _running(three) == [True, False, True]


def test_unload_frees_now_and_the_next_call_restarts(tiny_llm_path):
    m = _tiny(tiny_llm_path).start()
    try:
        before = m('hi', **GREEDY)
        pid = m.deployment.job.pid
        lazyllm.unload(m)
        assert m.deployment.job is None and m.deployment not in pool.live()
        assert m('hi', **GREEDY) == before and m.deployment.job.pid != pid
    finally:
        m.stop()
    with pytest.raises(InputError, match='nothing to unload'):
        lazyllm.unload(m)
    with pytest.raises(InputError, match='TrainableModule'):
        lazyllm.unload('not a module')


def test_switch_device_restarts_there_and_falls_back_when_it_cannot(tiny_llm_path):
    m = _tiny(tiny_llm_path).start()
    try:
        lazyllm.switch_device(m, 'cpu')
        assert m.deployment.options['device'] == 'cpu'
        assert 'on cpu' in m.deployment.job.logs(200)
        pid = m.deployment.job.pid
        with pytest.raises(DeployError, match='CUDA'):
            lazyllm.switch_device(m, 'cuda')     # no GPU here: fails, and m runs on cpu again
        assert m.deployment.options['device'] == 'cpu' and m.deployment.job.pid != pid
        assert isinstance(m('hi', **GREEDY), str)
        with pytest.raises(InputError, match='device must be'):
            lazyllm.switch_device(m, '')
    finally:
        m.stop()


def test_a_memory_threshold_evicts_before_a_start(three):
    used = memory_in_use()
    assert used is not None and 0 < used < 1
    a, b, _ = three
    with lazyllm.config.override(model_memory_threshold=used / 2):   # always exceeded
        a.start()
        b.start()                               # a is evicted; b itself never is
        assert _running(three)[:2] == [False, True]
    with pytest.raises(InputError, match='max_live_models'):
        with lazyllm.config.override(max_live_models=-1):
            pool.make_room(None)


def test_a_call_whose_engine_was_evicted_under_it_restarts_it(tiny_llm_path):
    """A call that had leased the engine when the pool stopped it (its request then finds
    nobody) counts as an engine loss: the engine is started again and the call sent again."""
    m = _tiny(tiny_llm_path).start()
    try:
        dep, generations = m.deployment, []

        def call(lease):
            generations.append(lease.generation)
            if len(generations) == 1:
                dep.evict()                       # another start needed the room
            return lease.client.chat('hello', model=lease.served_name, **GREEDY).content
        assert isinstance(m._engine_call(call), str)
        assert generations == [generations[0], generations[0] + 1]
        assert dep.state == 'running' and not dep.evicted
    finally:
        m.stop()
