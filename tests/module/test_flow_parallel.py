"""parallel (shapes, branch selection, concurrency), diverter, warp and barrier."""
import threading
import time

import pytest

from lazyllm import barrier, diverter, package, parallel, pipeline, warp
from lazyllm.errors import InputError


def inc(x):
    return x + 1


def finishes(fn, timeout=10):
    """Run fn in a thread and fail (instead of hanging the suite) if it does not return."""
    out = {}

    def target():
        try:
            out['value'] = fn()
        except BaseException as e:  # handed back to the test
            out['error'] = e
    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(timeout)
    assert not t.is_alive(), f'did not finish within {timeout}s (deadlock?)'
    if 'error' in out:
        raise out['error']
    return out['value']


# -- parallel: shapes ---------------------------------------------------------------------

def test_parallel_default_is_a_package_in_branch_order():
    out = parallel(inc, lambda x: x * 10)(1)
    assert isinstance(out, package) and out == (2, 10)


def test_parallel_single_branch_still_returns_a_package_so_sum_joins_them():
    assert parallel(inc)(1) == package(2)
    assert parallel(parallel(inc), parallel(inc)).sum(1) == (2, 2)


def test_sum_adds_numbers_joins_lists_and_concatenates_strings():
    assert parallel(inc, inc).sum(1) == 4
    assert parallel(lambda x: [x], lambda x: [x, x]).sum(3) == [3, 3, 3]
    assert parallel(str, inc).sum(7) == '78'     # the first is a str: every output as str


def test_sum_of_values_that_cannot_be_added_says_what_to_do():
    with pytest.raises(InputError, match=r'cannot add .*dict.*aslist'):
        parallel(lambda x: {'a': x}, lambda x: {'b': x}).sum(1)


def test_join_astuple_aslist_asdict():
    assert parallel(str, lambda x: str(-x)).join(', ')(1) == '1, -1'
    assert parallel(inc, inc).join()(1) == '22'
    assert parallel(inc, inc).astuple(1) == (2, 2) and type(parallel(inc).astuple(1)) is tuple
    assert parallel(inc, inc).aslist(1) == [2, 2]
    assert parallel(a=inc, b=str).asdict(1) == {'a': 2, 'b': '1'}


def test_join_needs_a_str_separator():
    with pytest.raises(InputError, match='str separator'):
        parallel(inc).join(1)


def test_asdict_with_unnamed_branches_is_refused_early_or_at_the_call():
    with pytest.raises(InputError, match='needs every branch named'):
        parallel(inc, inc).asdict
    with parallel().asdict as p:         # branches come later: checked when it runs
        p.a = inc
    assert p(1) == {'a': 2}


def test_a_shape_is_chosen_once():
    p = parallel(inc, inc).sum
    with pytest.raises(InputError, match=r'already returns \.sum'):
        p.aslist


def test_shape_chosen_before_a_with_block_applies_to_its_branches():
    with parallel().sum as p:
        p.a = inc
        p.b = inc
    assert p(1) == 4


# -- parallel: inputs, selection, concurrency ------------------------------------------

def test_every_branch_gets_the_whole_input_and_keywords():
    assert parallel(lambda a, b, k=0: a + b + k, lambda a, b, k=0: a * b * k)(2, 3, k=1) \
        == (6, 6)


def test_kept_and_skipped_items_by_name_or_index():
    p = parallel(a=inc, b=lambda x: x * 10, c=lambda x: -x)
    assert p(1, _kept_items='b') == (10,)
    assert p(1, _kept_items=['c', 0]) == (2, -1)
    assert p(1, _skip_items=1) == (2, -1)
    assert p.asdict(1, _skip_items=['a']) == {'b': 10, 'c': -1}


def test_selection_errors_name_the_fix():
    p = parallel(a=inc, b=inc)
    with pytest.raises(InputError, match='not both'):
        p(1, _kept_items='a', _skip_items='b')
    with pytest.raises(InputError, match=r"'z' is not a branch.*\['a', 'b'\].*0\.\.1"):
        p(1, _kept_items='z')
    with pytest.raises(InputError, match='not a branch'):
        p(1, _skip_items=5)
    with pytest.raises(InputError, match='leaves no branch'):
        p(1, _skip_items=['a', 'b'])


def test_branches_run_concurrently():
    both_running = threading.Barrier(2, timeout=5)

    def meet(x):
        both_running.wait()      # breaks (BrokenBarrierError) if branches ran one by one
        return x
    assert finishes(lambda: parallel(meet, meet)(1)) == (1, 1)


def test_sequential_runs_in_the_callers_thread_in_order():
    seen = []

    def record(tag):
        def step(x):
            seen.append((tag, threading.current_thread().name))
            return tag
        return step
    assert parallel.sequential(record('a'), record('b'))(0) == ('a', 'b')
    me = threading.current_thread().name
    assert seen == [('a', me), ('b', me)]


def test_concurrent_limit_and_its_validation():
    active, peak, lock = [0], [0], threading.Lock()

    def count(x):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.05)
        with lock:
            active[0] -= 1
        return x
    assert parallel(count, count, count, count, _concurrent=2)(0) == (0, 0, 0, 0)
    assert peak[0] <= 2
    with pytest.raises(InputError, match='_concurrent'):
        parallel(inc, _concurrent=0)
    with pytest.raises(InputError, match='_concurrent'):
        parallel(inc, _concurrent='many')


def test_a_branch_error_keeps_its_type_and_names_the_branch():
    def boom(x):
        raise KeyError('bad')
    with pytest.raises(KeyError) as info:
        parallel(ok=inc, broken=boom)(1)
    assert "step 'broken'" in '\n'.join(getattr(info.value, '__notes__', []))


# -- diverter -------------------------------------------------------------------------------

def test_diverter_gives_each_branch_its_own_input():
    assert diverter(inc, lambda x: x * 2, lambda x: -x)(1, 2, 3) == (2, 4, -3)
    assert diverter(inc, inc)([1, 2]) == (2, 3)               # a single list is split
    assert diverter(lambda a, b: a + b, inc)(package(1, 2), 5) == (3, 6)  # package unpacked


def test_diverter_routes_a_dict_by_branch_name():
    d = diverter(a=inc, b=lambda x: x * 2, c=lambda x: -x).asdict
    assert d(1, 2, 3) == {'a': 2, 'b': 4, 'c': -3}
    assert d(dict(c=3, b=2, a=1)) == {'a': 2, 'b': 4, 'c': -3}


def test_diverter_wrong_number_of_inputs_names_the_counts():
    with pytest.raises(InputError, match=r'3 branch\(es\) and got 2 input'):
        diverter(inc, inc, inc)(1, 2)


def test_diverter_dict_errors():
    with pytest.raises(InputError, match='unnamed branches'):
        diverter(inc, inc)({'a': 1, 'b': 2})
    d = diverter(a=inc, b=inc)
    with pytest.raises(InputError, match=r"no branch is named \['z'\]"):
        d(dict(a=1, b=2, z=3))
    with pytest.raises(InputError, match=r"no input for \['b'\]"):
        d(dict(a=1))


def test_diverter_with_a_selection_takes_inputs_for_the_selected_or_all_branches():
    d = diverter(a=inc, b=lambda x: x * 10, c=lambda x: -x)
    assert d(1, 3, _skip_items='b') == (2, -3)
    assert d(1, 2, 3, _skip_items='b') == (2, -3)
    assert d(dict(a=1, c=3), _kept_items=['a', 'c']) == (2, -3)
    with pytest.raises(InputError, match=r'2 \(the selected branches\) or 3'):
        d(1, _skip_items='b')


def test_diverter_sequential_and_shapes():
    assert diverter.sequential(inc, inc).sum(1, 2) == 5


# -- warp ---------------------------------------------------------------------------------

def test_warp_maps_each_input_and_keeps_order():
    assert warp(inc)(1, 2, 3) == (2, 3, 4)
    assert warp(inc, str)([1, 2]) == ('2', '3')              # steps run as a pipeline
    assert warp(lambda a, b: a + b)([package(1, 2), package(3, 4)]) == (3, 7)
    assert warp(len)({'a': 1, 'b': 2}) == (2,)               # a dict is one input
    assert warp(lambda x, k=0: x + k)(1, 2, k=10) == (11, 12)


def test_warp_shapes_like_parallel():
    assert warp(inc).sum(1, 2) == 5
    assert warp(lambda x: package(x, x)).sum(1, 2) == (1, 1, 2, 2)
    assert warp(str).join('-')(1, 2) == '1-2'
    with pytest.raises(InputError, match='warp results have no names'):
        warp(inc).asdict


def test_warp_built_in_a_with_block():
    with warp().sum as w:
        w.a = inc
        w.b = lambda x: x * 2
    assert w([1, 2]) == 4 + 6


def test_warp_errors():
    with pytest.raises(InputError, match='no steps'):
        warp()(1)
    with pytest.raises(InputError, match='filter the inputs'):
        warp(inc)(1, _kept_items=0)


def test_warp_runs_inputs_concurrently():
    both_running = threading.Barrier(2, timeout=5)

    def meet(x):
        both_running.wait()
        return x
    assert finishes(lambda: warp(meet)(1, 2)) == (1, 2)


# -- barrier ------------------------------------------------------------------------------

def test_barrier_outside_a_parallel_passes_the_input_through():
    assert barrier(3) == 3
    assert barrier(1, 2) == package(1, 2)
    assert pipeline(lambda x: package(x, x), barrier, lambda a, b: a + b)(2) == 4
    with pytest.raises(InputError, match='positional values only'):
        barrier(1, k=2)


def test_barrier_holds_each_branch_until_all_reached_it():
    log, a_started = [], threading.Event()

    def a1(x):
        log.append('a1')
        a_started.set()
        return x

    def b1(x):
        assert a_started.wait(5)
        time.sleep(0.05)           # gives 'a' time to run ahead if the barrier did not hold
        log.append('b1')
        return x

    def record(tag):
        return lambda x: log.append(tag) or x
    p = parallel(pipeline(a1, barrier, record('a2')), pipeline(b1, barrier, record('b2')))
    finishes(lambda: p(0))
    assert set(log[:2]) == {'a1', 'b1'} and set(log[2:]) == {'a2', 'b2'}


def test_lazyllm_barrier_example_orders():
    res = []

    def get(i):
        res.append(i)
        return i + 1
    p = pipeline(get, parallel(pipeline(get, barrier, get, barrier, get, get),
                               pipeline(get, barrier, get, get, get, get, barrier, get)))
    finishes(lambda: p(0))
    assert res[:3] == [0, 1, 1]
    assert res[3:-3] in ([2, 2, 3, 4, 5], [2, 3, 2, 4, 5], [2, 3, 4, 2, 5], [2, 3, 4, 5, 2])
    assert res[-3:] in ([6, 3, 4], [3, 6, 4], [3, 4, 6])


def test_a_branch_with_fewer_barriers_or_an_error_does_not_block_the_others():
    p = parallel(pipeline(inc, barrier, inc, barrier, inc), pipeline(inc))
    assert finishes(lambda: p(0)) == (3, 1)

    def boom(x):
        raise RuntimeError('branch failed')
    q = parallel(pipeline(inc, barrier, inc), pipeline(boom, barrier))
    with pytest.raises(RuntimeError, match='branch failed'):
        finishes(lambda: q(0))


def test_barrier_belongs_to_the_innermost_parallel():
    inner = parallel(pipeline(inc, barrier, inc), pipeline(barrier, inc))
    outer = parallel(pipeline(inner, barrier), pipeline(inc, barrier))
    assert finishes(lambda: outer(0)) == ((2, 1), 1)


def test_barrier_in_warp_and_diverter():
    assert finishes(lambda: warp(pipeline(inc, barrier, inc))(1, 2, 3)) == (3, 4, 5)
    assert finishes(lambda: diverter(pipeline(barrier, inc), barrier)(1, 2)) == (2, 2)


def test_barrier_in_sequential_branches_passes_through():
    p = parallel.sequential(pipeline(inc, barrier, inc), pipeline(barrier, inc))
    assert finishes(lambda: p(0)) == (2, 1)


def test_barrier_that_can_never_be_met_raises_instead_of_hanging():
    p = parallel(pipeline(barrier, inc), pipeline(barrier, inc), _concurrent=1)
    with pytest.raises(InputError, match='cannot start.*at least the number of branches'):
        finishes(lambda: p(0))
