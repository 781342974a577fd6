"""With-blocks, step kinds and constructor options of flows."""
import pytest

import lazyllm
from lazyllm import diverter, ifs, loop, package, parallel, pipeline, switch, warp
from lazyllm.errors import InputError


def test_unnamed_flow_opened_in_a_block_is_the_next_step():
    with pipeline() as p:
        p.f1 = lambda x: x + '1'
        with pipeline() as p2:
            p2.a = lambda x: x + '2'
            p2.b = lambda x: x + '3'
        p.f3 = lambda x: x + '4'
    assert p('0') == '01234'
    assert len(p) == 3 and p.steps[1] is p2


def test_with_target_names_the_step_once():
    with pipeline() as p:
        p.first = lambda x: x + 1
        with parallel() as p.both:
            p.both.a = lambda x: x * 2
            p.both.b = lambda x: x * 3
    assert len(p) == 2
    assert p.both is p.steps[1]
    assert p(1) == package(4, 6)


@pytest.mark.parametrize('make, two_steps, expected', [
    (lambda: pipeline(), True, 60),
    (lambda: parallel().sum, True, 20 + 30),
    (lambda: warp(), False, package(20)),
    (lambda: diverter(), False, package(20)),
    (lambda: loop(count=2), False, 40),
])
def test_every_flow_kind_joins_the_enclosing_block(make, two_steps, expected):
    with pipeline() as p:
        p.ten = lambda x: x * 10
        with make() as inner:
            inner.double = lambda x: x * 2
            if two_steps:
                inner.triple = lambda x: x * 3
    assert len(p) == 2 and p.steps[1] is inner
    assert p(1) == expected


def test_nested_blocks_three_deep():
    with pipeline() as p:
        p.a = lambda x: x + 'a'
        with pipeline() as p.mid:
            p.mid.b = lambda x: x + 'b'
            with pipeline() as p.mid.deep:
                p.mid.deep.c = lambda x: x + 'c'
            p.mid.d = lambda x: x + 'd'
        p.e = lambda x: x + 'e'
    assert p('') == 'abcde'


def test_flow_built_by_a_helper_function_is_not_adopted():
    def build():
        with pipeline() as sub:
            sub.up = str.upper
        return sub

    with pipeline() as p:
        p.strip = str.strip
        helper_flow = build()              # built in another function: not a step by itself
        p.shout = lazyllm.bind(helper_flow)
    assert len(p) == 2
    assert p(' hi ') == 'HI'


def test_switch_block_keeps_inner_flows_until_a_case_uses_them():
    with switch() as sw:
        with pipeline() as branch:
            branch.up = str.upper
        sw.case[lambda s: s.startswith('a'), branch]
        sw.case['default', str.lower]
    assert (sw('abc'), sw('XYZ')) == ('ABC', 'xyz')
    assert len(sw) == 2


def test_assignment_after_the_block_is_refused():
    with pipeline() as p:
        p.a = str
    with pytest.raises(InputError, match='inside "with pipeline'):
        p.b = str


def test_class_with_callable_instances_is_instantiated():
    class Exclaim(lazyllm.ModuleBase):
        def forward(self, s):
            return s + '!'

    class Twice:
        def __call__(self, s):
            return s * 2

    p = pipeline(Exclaim, Twice, str.upper)
    assert p('a') == 'A!A!'
    assert isinstance(p.steps[0], Exclaim)
    with pipeline() as q:
        q.e = Exclaim
    assert q('b') == 'b!'
    assert pipeline(int, str)('7') == '7'       # str, int: called as constructors


def test_class_that_needs_arguments_is_an_input_error():
    class NeedsArg:
        def __init__(self, value):
            self.value = value

        def __call__(self, x):
            return x

    with pytest.raises(InputError, match='NeedsArg.*pass an instance'):
        pipeline(NeedsArg)


def test_same_step_twice_stays_two_steps():
    def inc(x):
        return x + 1
    with pipeline() as p:
        p.f1 = inc
        p.f2 = inc
    assert p(0) == 2
    assert p.f1 is inc and p.f2 is not inc and p.f2(1) == 2
    assert p.steps == [inc, inc]


def test_options_are_never_steps():
    with pytest.raises(InputError, match="'count' is an option of loop, not of pipeline"):
        pipeline(count=3)
    with pytest.raises(InputError, match="'conversion' is an option of switch"):
        loop(str, count=1, conversion=len)
    with pytest.raises(InputError,
                       match=r'not an option of loop \(save_result, count, stop_condition'):
        loop(str, count=1, on_limit='raise')
    with pytest.raises(InputError, match='cannot be mixed with positional steps'):
        loop(str, count=1, on_limit=print)        # a callable: still not taken as a step
    with pytest.raises(InputError, match='does not have'):
        pipeline(str, auto_capture=True)
    with pytest.raises(InputError, match='switch takes no named steps'):
        switch(upper=str.upper)
    with pytest.raises(InputError, match='ifs takes no named steps'):
        ifs(True, str, str, other=str)


def test_named_keyword_steps_still_work():
    p = pipeline(strip=str.strip, upper=str.upper)
    assert p(' x ') == 'X' and p.upper is str.upper


def test_bad_step_names_are_refused():
    with pytest.raises(InputError, match='already used or reserved'):
        pipeline(input=str)
    with pipeline() as p:
        p.a = str
        with pytest.raises(InputError, match='already used or reserved'):
            p.a = str
        with pytest.raises(InputError, match='already used or reserved'):
            p.kwargs = str


def test_name_and_post_action_options():
    seen = []
    p = pipeline(lambda x: x + 1, name='inc', post_action=seen.append)
    assert p(1) == 2 and seen == [2]
    assert p.name == 'inc'
    with pytest.raises(InputError, match='post_action is a int'):
        pipeline(str, post_action=3)
    with pytest.raises(InputError, match='save_result takes True or False'):
        pipeline(str, save_result='yes')
    assert pipeline(str, save_result=True)(1) == '1'
