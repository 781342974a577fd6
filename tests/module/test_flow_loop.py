"""loop: its body, count, stop_condition and judge_on_full_input."""
import pytest

from lazyllm import _0, bind, loop, package
from lazyllm.errors import InputError


def test_with_block_builds_the_body():
    with loop(count=2) as lp:
        lp.a = lambda x: x + 1
        lp.b = lambda x: x * 2
    assert lp(1) == 10          # ((1 + 1) * 2 + 1) * 2


def test_positional_body_runs_count_times():
    assert loop(lambda x: x * 2, count=3)(1) == 8
    assert loop(lambda x: x + 'a', lambda x: x + 'b', count=2)('') == 'abab'


def test_stop_condition_is_judged_on_each_output():
    judged = []

    def stop(out):
        judged.append(out)
        return out > 10
    with loop(stop_condition=stop) as lp:
        lp.f1 = lambda x: x + 1
        lp.f2 = lambda x: x + 1
    assert lp(1) == 11
    assert judged == [3, 5, 7, 9, 11]


def test_count_caps_a_stop_condition_that_never_holds():
    assert loop(lambda x: x + 1, count=4, stop_condition=lambda x: False)(0) == 4


def test_stop_condition_checked_after_the_first_iteration_too():
    assert loop(lambda x: x + 1, count=5, stop_condition=lambda x: True)(0) == 1


def test_package_output_is_unpacked_for_the_next_iteration_and_the_condition():
    swap = loop(lambda a, b: package(b, a + b), stop_condition=lambda a, b: b > 20)
    assert swap(1, 1) == package(13, 21)


def test_judge_on_full_input_false_judges_the_first_item_only():
    def step(x):
        return package(x * 2 >= 16, x * 2)          # (flag, value)
    lp = loop(step, stop_condition=lambda flag: flag, judge_on_full_input=False)
    assert lp(1) == 16
    pair = loop(lambda a, b: package(a + b > 5, a + 1, b + 1),
                stop_condition=bool, judge_on_full_input=False)
    assert pair(0, 0) == package(4, 4)      # flag of (3, 3) is 6 > 5: stop with (4, 4)


def test_judge_on_full_input_false_needs_a_flag_package():
    lp = loop(lambda x: x + 1, count=2, judge_on_full_input=False)
    with pytest.raises(InputError, match='package\\(value_to_judge, output'):
        lp(1)


def test_keyword_arguments_reach_the_first_iteration_only():
    calls = []

    def first(x, bonus=0):
        calls.append(bonus)
        return x + bonus
    assert loop(first, count=3)(0, bonus=5) == 5
    assert calls == [5, 0, 0]


def test_loop_input_can_be_bound_in_its_body():
    with loop(count=3) as lp:
        lp.add = bind(lambda acc, start: acc + start, _0, lp.input)
    assert lp(2) == 8           # 2 + 2 + 2 + 2


def test_empty_loop_returns_its_input():
    assert loop(count=3)(7) == 7


def test_loop_options_are_validated():
    with pytest.raises(InputError, match='never end'):
        loop(str)
    with pytest.raises(InputError, match='positive int'):
        loop(str, count=0)
    with pytest.raises(InputError, match='positive int'):
        loop(str, count=True)
    with pytest.raises(InputError, match='stop_condition must be a callable'):
        loop(str, stop_condition=3)
    with pytest.raises(InputError, match='judge_on_full_input takes True or False'):
        loop(str, count=1, judge_on_full_input='no')
    with pytest.raises(InputError, match='is not an option of loop'):
        loop(str, count=1, on_limit='raise')


def test_stream_of_a_loop_is_its_final_output():
    assert list(loop(lambda x: x + 1, count=3).stream(0)) == [3]
