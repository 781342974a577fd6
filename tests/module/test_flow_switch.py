"""switch and ifs: their forms, conversion, judge_on_full_input, conditions."""
import pytest

from lazyllm import ifs, package, pipeline, switch
from lazyllm.errors import InputError


def is_1(x):
    return x == 1


def is_2(x):
    return x == 2


def double(x):
    return 2 * x


def triple(x):
    return 3 * x


def same(x):
    return x


def test_dict_form():
    sw = switch({is_1: double, is_2: triple, 'default': same})
    assert (sw(1), sw(2), sw(5)) == (2, 6, 5)


def test_no_match_and_no_default_returns_none():
    assert switch({is_1: double})(3) is None
    assert switch(is_1, double)(3) is None


@pytest.mark.parametrize('add', [
    lambda sw, c, b: sw.case[c:b],
    lambda sw, c, b: sw.case[c::b],
    lambda sw, c, b: sw.case[c, b],
    lambda sw, c, b: sw.case(c, b),
])
def test_every_case_spelling_adds_a_case(add):
    with switch() as sw:
        add(sw, is_1, double)
        add(sw, 0, triple)              # a non-callable condition is compared with ==
    assert (sw(1), sw(0), sw(7)) == (2, 0, None)


def test_conversion_is_judged_but_the_branch_gets_the_input():
    with switch(conversion=lambda x: x / 10) as sw:
        sw.case[is_1:double]
        sw.case(is_2, triple)
    assert (sw(10), sw(20)) == (20, 60)


def test_judge_on_full_input_false_judges_the_first_value():
    with switch(judge_on_full_input=False) as sw:
        sw.case[is_1:double]
        sw.case[is_2, lambda a, b: a + b]
    assert sw(1, 30) == 60
    assert sw(2, 10, 5) == 15           # the rest, as positional arguments
    with pytest.raises(InputError, match='needs the value to judge and the branch input'):
        sw(1)


def test_full_input_package_is_unpacked_for_conditions_and_branches():
    sw = switch(lambda a, b: a > b, lambda a, b: a, 'default', lambda a, b: b)
    assert (sw(3, 1), sw(1, 3)) == (3, 3)
    assert switch(5, same)(package(5)) == 5          # a one-item package matches its item


def test_keyword_arguments_reach_the_branch():
    sw = switch('default', lambda x, sep='': sep.join(x))
    assert sw('ab', sep='-') == 'a-b'


def test_switch_in_a_pipeline_block_is_a_step():
    with pipeline() as p:
        p.len = len
        with switch() as p.size:
            p.size.case[lambda n: n > 3, lambda n: 'long']
            p.size.case['default', lambda n: 'short']
    assert (p('hello'), p('hi')) == ('long', 'short')


def test_switch_errors_name_the_fix():
    with pytest.raises(InputError, match='odd number'):
        switch(1, str, 2)
    with pytest.raises(InputError, match='must be the last'):
        switch('default', str, 1, str)
    with pytest.raises(InputError, match='not a case'):
        with switch() as sw:
            sw.case[is_1]
    with pytest.raises(InputError, match='not a case'):
        with switch() as sw:
            sw.case[:double]
    with pytest.raises(InputError, match='adds no case'):
        with switch() as sw:
            sw.upper = str.upper
    sw = switch(1, str)
    with pytest.raises(InputError, match='add switch cases in its constructor'):
        sw.case[2, str]
    with pytest.raises(InputError, match='conversion must be a callable'):
        switch(conversion='len')
    with pytest.raises(InputError, match='judge_on_full_input takes True or False'):
        switch(judge_on_full_input=1)
    with pytest.raises(InputError, match='not a callable'):
        switch(1, 'not a branch')


def test_ifs_with_a_callable_condition():
    sign = ifs(lambda x: x >= 0, lambda x: '+', lambda x: '-')
    assert (sign(1), sign(-1)) == ('+', '-')
    assert ifs(lambda a, b: a > b, max, min)(3, 1) == 3


def test_ifs_with_a_zero_argument_condition():
    state = {'on': True}
    toggle = ifs(lambda: state['on'], str.upper, str.lower)
    assert toggle('Ab') == 'AB'
    state['on'] = False
    assert toggle('Ab') == 'ab'


def test_ifs_with_a_constant_condition():
    assert ifs(True, str.upper, str.lower)('Ab') == 'AB'
    assert ifs(False, str.upper, str.lower)('Ab') == 'ab'
    with pytest.raises(InputError, match='callable or True/False'):
        ifs('yes', str.upper, str.lower)


def test_ifs_branches_are_named_steps():
    choice = ifs(True, str.upper, str.lower)
    assert choice.true_path is str.upper and choice.false_path is str.lower
