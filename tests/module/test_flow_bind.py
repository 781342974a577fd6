"""bind: its two spellings and the references it resolves."""
import pytest

import lazyllm
from lazyllm import _0, _1, bind, package, parallel, pipeline, save_pipeline_result, warp
from lazyllm.errors import InputError


def add_one(x):
    return x + 1


def xyz(x, y, z=0):
    return x + y + 2 * z


def test_pipe_and_call_spellings_are_the_same():
    assert (xyz | bind(y=1, z=2))(3) == bind(xyz, y=1, z=2)(3) == 8
    assert (xyz | bind(_0, 10))(1) == 11


def test_pipe_into_a_bind_that_has_a_function_makes_it_the_first_argument():
    def apply(f, x):
        return f(x)
    assert (apply | bind(add_one, 4))() == 5
    assert (apply | bind(add_one, _0))(4) == 5


def test_pipe_works_with_flows_and_module_classes():
    class Join(lazyllm.ModuleBase):
        def forward(self, a, b):
            return f'{a}-{b}'
    assert (pipeline(lambda a, b: package(b, a)) | bind(_1, _0))(1, 2) == package(1, 2)
    assert (Join | bind('x', _0))('y') == 'x-y'
    assert bind(Join, _0, 'z')('w') == 'w-z'


def test_step_object_stands_for_its_output():
    with pipeline() as p:
        p.f1 = add_one
        p.f2 = add_one
        p.f3 = xyz | bind(y=p.input, z=p.f1)
    assert p(2) == 12            # 4 + 2 + 2 * 3


def test_output_by_name_index_and_object():
    with pipeline() as p:
        p.f1 = add_one
        p.f2 = add_one
        p.by_name = bind(lambda *a: a, p.output('f1'), p.output(1), p.output(p.f1))
    assert p(0) == (1, 2, 1)


def test_kwargs_reference_reads_the_call_keywords():
    with pipeline() as p:
        p.f1 = lambda x: x + 1
        p.f2 = xyz | bind(y=p.kwargs['x'], z=p.output('f1'))
    assert p(x=3) == 4 + 3 + 8   # f1 gets x=3 as keyword


def test_unpack_spreads_a_package_with_slicing():
    def three(x, y, z):
        return package(x, y, z)
    with pipeline() as p:
        p.f1 = three
        p.mid = lambda *a: 'ignored'
        p.out = bind(three, p.output('f1')[0], p.output('f1', unpack=True)[2:0:-1])
    assert p(1, 2, 3) == package(1, 3, 2)
    with pipeline() as q:
        q.f1 = three
        q.out = bind(three, q.output('f1', unpack=True))
    assert q(4, 5, 6) == package(4, 5, 6)


def test_item_and_attribute_refinements():
    class Box:
        label = 'box'
    with pipeline() as p:
        p.first = lambda d, b: d['idx']
        p.use = bind(lambda *a: a, p.input[0]['idx'], p.input[1].label, _0)
    assert p({'idx': 7}, Box()) == (7, 'box', 7)


def test_references_from_nested_flows_always_resolve():
    with pipeline() as p:
        p.f1 = add_one
        p.f2 = add_one
        p.f3 = add_one
        with parallel().sum as p.sub:
            p.sub.a = xyz | bind(y=p.input, z=p.output(p.f1))
            p.sub.b = xyz | bind(y=p.input, z=p.output('f2'))
    assert p(3) == 36            # (6 + 3 + 8) + (6 + 3 + 10)
    with save_pipeline_result():
        assert p(3) == 36        # accepted for LazyLLM compatibility, changes nothing
    with save_pipeline_result(False):
        assert p(3) == 36


def test_concurrent_runs_see_their_own_values():
    with pipeline() as p:
        p.double = lambda x: x * 2
        p.add_input = bind(lambda a, b: a + b, _0, p.input)
    assert list(warp(p)(list(range(30)))) == [3 * x for x in range(30)]


def test_bind_errors_name_the_fix():
    with pytest.raises(InputError, match='outside a run of its pipeline'):
        bind(str, pipeline(str).input)('x')
    with pipeline() as q:
        q.a = bind(str, q.output('b'))
        q.b = str
    with pytest.raises(InputError, match='not available yet'):
        q('x')
    with pipeline() as r:
        r.a = str
        r.b = bind(str, r.output('missing'))
    with pytest.raises(InputError, match="'missing' is not a step"):
        r('x')
    with pytest.raises(InputError, match='received 1 input'):
        bind(str, _1)('x')
    with pytest.raises(InputError, match='has no function to call'):
        bind(y=1)(2)
    with pytest.raises(InputError, match='already bound'):
        bind(xyz, y=1)(1, y=2)
    with pytest.raises(InputError, match='step name, an index or the step object'):
        pipeline(str).output(1.5)
    with pipeline() as s:
        s.a = bind(str, s.input['k'])
    with pytest.raises(InputError, match=r"cannot take \['k'\] of a int"):
        s(3)
    with pipeline() as t:
        t.a = lambda x: package(x, x)
        t.b = bind(xyz, 1, y=t.output('a', unpack=True))
    with pytest.raises(InputError, match='spreads into positional'):
        t(1)
    with pytest.raises(InputError, match='save_pipeline_result'):
        save_pipeline_result('yes')


def test_step_object_of_the_same_function_twice_picks_the_right_step():
    with pipeline() as p:
        p.f1 = add_one
        p.f2 = add_one
        p.out = bind(lambda *a: a, p.f1, p.f2, p.output(p.f2))
    assert p(0) == (1, 2, 2)


def test_step_object_from_a_nested_flow_refers_to_the_outer_run():
    with pipeline() as p:
        p.f1 = add_one
        with pipeline() as p.inner:
            p.inner.use = bind(lambda cur, first: (cur, first), _0, p.f1)
    assert p(1) == (2, 2)


def test_step_object_that_has_not_run_is_an_error():
    with pipeline() as p:
        p.early = bind(lambda x, later: x, _0, add_one)
        p.later = add_one
    with pytest.raises(InputError, match='has not run yet'):
        p(1)
