"""ActionModule: any callable as a module (hooks, formatter, lifecycle reach the inside)."""
import pytest

import lazyllm
from lazyllm.errors import InputError


class Upper(lazyllm.ModuleBase):
    def forward(self, text):
        return text.upper()


class Started(lazyllm.ModuleBase):
    def __init__(self):
        super().__init__()
        self.starts = 0

    def _start_self(self):
        self.starts += 1

    def forward(self, x):
        return x


def test_one_callable_is_called_with_the_call_arguments():
    m = lazyllm.ActionModule(lambda a, b=0: a + b)
    assert m(1) == 1
    assert m(1, b=2) == 3


def test_several_callables_run_in_order():
    assert lazyllm.ActionModule(lambda x: x + 1, lambda x: x * 2)(1) == 4
    assert lazyllm.ActionModule([str.strip, str.upper])('  hi ') == 'HI'


def test_a_module_class_is_instantiated():
    assert lazyllm.ActionModule(Upper)('hi') == 'HI'
    assert isinstance(lazyllm.ActionModule(Upper).action, Upper)


def test_start_reaches_the_wrapped_modules():
    inner = Started()
    m = lazyllm.ActionModule(lazyllm.pipeline(inner))
    m.start()
    assert inner.starts == 1
    m.stop()


def test_formatter_view_applies_to_the_output():
    m = lazyllm.ActionModule(lambda x: x * 2) | (lambda out: out + 1)
    assert m(3) == 7


def test_stream_of_a_wrapped_module_is_its_stream():
    class Words(lazyllm.ModuleBase):
        def forward(self, text):
            return text

        def stream_forward(self, text):
            yield from text.split()

    assert list(lazyllm.ActionModule(Words()).stream('a b c')) == ['a', 'b', 'c']
    assert list(lazyllm.ActionModule(str.upper).stream('ab')) == ['AB']


@pytest.mark.parametrize('bad', [(), (3,), (str.strip, 'x')])
def test_bad_actions_are_refused_with_the_fix(bad):
    with pytest.raises(InputError, match='ActionModule'):
        lazyllm.ActionModule(*bad)
