import lazyllm
from lazyllm import pipeline
from lazyllm.formatter import JsonFormatter, JsonLikeFormatter


def three(x, y, z):
    return [x, y, z]


def test_a_pipeline_piped_into_a_formatter_takes_it_as_its_last_step_in_place():
    p = pipeline(three)
    assert (p | JsonFormatter('[0,2]')) is p
    assert p(1, 2, 3) == [1, 3]
    p | JsonLikeFormatter('[1]')
    assert p(1, 2, 3) == 3


def test_inside_a_with_block_the_formatter_is_the_next_step():
    with pipeline() as p:
        p.a = three
        p | JsonFormatter('[:]')
        p.b = JsonLikeFormatter('[-1]')
    assert p(1, 2, 3) == 3


def test_a_composed_formatter_is_one_step():
    p = pipeline(three)
    p | (JsonFormatter('[0,1]') | JsonLikeFormatter('[1]'))
    assert p(1, 2, 3) == 2


def test_a_package_from_a_step_reaches_the_formatter_as_one_package():
    p = pipeline(lambda x: lazyllm.package(x, x * 2), JsonLikeFormatter('[1]'))
    assert p(5) == 10


def test_a_formatter_piped_into_a_pipeline_runs_first():
    f = JsonFormatter('[a]') | pipeline(lambda v: v + 1)
    assert f('{"a": 1}') == 2


def test_a_module_piped_into_a_formatter_is_a_view():
    class Echo(lazyllm.ModuleBase):
        def forward(self, x):
            return x
    m = Echo()
    view = m | JsonFormatter('[a]')
    assert view is not m
    assert view('{"a": 7}') == 7 and m('{"a": 7}') == '{"a": 7}'
