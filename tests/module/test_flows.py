import threading
import time

import pytest

import lazyllm
from lazyllm import _0, _1, bind, ifs, loop, package, parallel, pipeline, switch, warp
from lazyllm.errors import InputError


def test_issue_example():
    f = pipeline(lambda x: x + 1, parallel(lambda x: x * 2, lambda x: x * 3).sum)
    assert f(1) == 10


def test_pipeline_positional_named_and_with_block():
    assert pipeline(str.strip, str.upper)('  a ') == 'A'
    assert pipeline(a=str.strip, b=str.upper)('  b ') == 'B'
    with pipeline() as p:
        p.strip = str.strip
        p.upper = str.upper
    assert p(' c ') == 'C'
    assert p.strip is str.strip
    assert pipeline([str.strip, str.upper])(' d ') == 'D'    # one list of steps
    assert pipeline()(5) == 5
    with pytest.raises(InputError, match='inside "with pipeline'):
        p.more = str.lower
    with pytest.raises(InputError, match='not a callable'):
        pipeline(1)
    with pytest.raises(InputError, match='already used or reserved'):
        pipeline(input=str)


def test_package_unpacks_into_next_step_and_tuple_does_not():
    assert pipeline(lambda x: package(x, x + 1), lambda a, b: a * b)(3) == 12
    assert pipeline(lambda x: (x, x + 1), len)(3) == 2
    assert pipeline(lambda a, b: a - b)(5, 2) == 3
    assert pipeline(lambda a, k=0: a + k)(1, k=2) == 3


def test_parallel_shapes():
    double, triple = (lambda x: x * 2), (lambda x: x * 3)
    assert parallel(double, triple)(2) == package(4, 6)
    assert parallel(a=double, b=triple).asdict(2) == {'a': 4, 'b': 6}
    assert parallel(double, triple).astuple(2) == (4, 6)
    assert parallel(double, triple).aslist(2) == [4, 6]
    assert parallel(double, triple).sum(2) == 10
    assert parallel(str, lambda x: str(-x)).join(', ')(1) == '1, -1'
    with pytest.raises(InputError, match='needs every branch named'):
        parallel(double, triple).asdict


def test_parallel_runs_concurrently_and_sequential_does_not():
    def slow(x):
        time.sleep(0.3)
        return threading.current_thread().name
    t0 = time.perf_counter()
    names = parallel(slow, slow, slow)(0)
    assert time.perf_counter() - t0 < 0.8
    assert len(set(names)) == 3
    t0 = time.perf_counter()
    names = parallel.sequential(slow, slow)(0)
    assert time.perf_counter() - t0 >= 0.6
    assert set(names) == {threading.current_thread().name}


def test_parallel_branch_error_propagates():
    def boom(x):
        raise KeyError('bad')
    with pytest.raises(KeyError):
        parallel(boom, str)(1)


def test_warp_maps_concurrently_in_order():
    def slow_square(x):
        time.sleep(0.2)
        return x * x
    t0 = time.perf_counter()
    assert warp(slow_square)(1, 2, 3, 4) == package(1, 4, 9, 16)
    assert time.perf_counter() - t0 < 0.6
    assert warp(lambda x: x + 1, str)([1, 2]) == package('2', '3')
    assert warp(lambda a, b: a + b)([package(1, 2), package(3, 4)]) == package(3, 7)


def test_switch_ifs():
    s = switch(lambda x: x < 0, lambda x: 'neg', 0, lambda x: 'zero', 'default', str)
    assert [s(-1), s(0), s(7)] == ['neg', 'zero', '7']
    with switch() as s2:
        s2.case[lambda x: x == 'a', str.upper]
        s2.case['default', str.lower]
    assert (s2('a'), s2('B')) == ('A', 'b')
    by_key = switch('up', str.upper, 'low', str.lower, judge_on_full_input=False)
    assert by_key('up', 'Hi') == 'HI' and by_key('low', 'Hi') == 'hi'
    assert switch(1, str)(5) is None          # no case and no default: None, as LazyLLM
    with pytest.raises(InputError, match='odd number'):
        switch(1, str, 2)
    with pytest.raises(InputError, match='must be the last'):
        switch('default', str, 1, str)
    sign = ifs(lambda x: x >= 0, lambda x: '+', lambda x: '-')
    assert (sign(1), sign(-1)) == ('+', '-')


def test_loop_count_and_stop_condition():
    assert loop(lambda x: x * 2, count=3)(1) == 8
    assert loop(lambda x: x + 1, stop_condition=lambda x: x >= 5)(0) == 5
    assert loop(lambda x: x + 1, count=2, stop_condition=lambda x: x > 100)(0) == 2
    with pytest.raises(InputError, match='never end'):
        loop(str)
    with pytest.raises(InputError, match='positive int'):
        loop(str, count=0)


def test_bind_routes_pipeline_input_and_earlier_outputs():
    with pipeline() as p:
        p.first = lambda x: x + 1
        p.second = lambda x: x * 10
        p.third = bind(lambda inp, cur, first: (inp, cur, first), p.input, _0, p.output('first'))
    assert p(1) == (1, 20, 2)
    with pipeline() as q:
        q.split = lambda a, b: package(a + b, a - b)
        q.use = bind(lambda s, d, b: (s, d, b), _0, _1, q.input[1])
    assert q(5, 3) == (8, 2, 3)
    kw = pipeline(lambda x: x * 2, bind(lambda cur, k=None: (cur, k), k='v'))
    assert kw(1) == (2, 'v')      # only keywords bound: the input passes through


def test_bind_in_nested_and_concurrent_runs_sees_its_own_run():
    with pipeline() as outer:
        outer.inc = lambda x: x + 1
        outer.inner = pipeline(lambda x: x * 2, bind(lambda a, b: a + b, _0, outer.input))
    assert outer(3) == 11          # (3+1)*2 + 3
    results = warp(outer)(list(range(20)))
    assert list(results) == [(x + 1) * 2 + x for x in range(20)]


def test_bind_errors_say_what_to_do():
    p = pipeline(str)
    with pytest.raises(InputError, match='outside a run of its pipeline'):
        bind(str, p.input)('x')
    with pipeline() as q:
        q.a = bind(str, q.output('b'))
        q.b = str
    with pytest.raises(InputError, match='not available yet'):
        q('x')
    with pytest.raises(InputError, match='received 1 input'):
        bind(str, _1)('x')


def test_flow_start_starts_modules_inside():
    class Model(lazyllm.ModuleBase):
        started = 0

        def _start_self(self):
            Model.started += 1

        def forward(self, x):
            return x
    ppl = pipeline(Model(), parallel(Model(), pipeline(Model())), str)
    ppl.start()
    assert Model.started == 3
    with ppl:                       # already started: the with block stops it on exit
        pass
    assert not ppl.steps[0]._life.started


def test_flow_stream_streams_the_last_module():
    class Words(lazyllm.ModuleBase):
        def forward(self, t):
            return t

        def stream_forward(self, t):
            yield from t.split()
    ppl = pipeline(str.upper, Words())
    assert list(ppl.stream('a b')) == ['A', 'B']
    assert list(pipeline(str.upper).stream('a')) == ['A']


def test_flow_repr_is_a_tree():
    p = pipeline(a=str.strip, b=parallel(str.upper, str.lower).sum)
    text = repr(p)
    assert 'a: str.strip' in text and 'b: Parallel.sum' in text and 'str.upper' in text
