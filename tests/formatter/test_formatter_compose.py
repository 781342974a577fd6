import pytest

from lazyllm.errors import InputError
from lazyllm.formatter import (
    EmptyFormatter,
    FormatterBase,
    JsonFormatter,
    LazyLLMFormatterBase,
    PipeFormatter,
)


def test_pipe_applies_left_then_right_and_does_not_change_operands():
    f, g = JsonFormatter('[0]'), JsonFormatter('[0]{name}')   # parsed input is one value
    h = f | g
    assert h('x {"name": "a"}') == 'a'
    assert isinstance(h, PipeFormatter) and h is not f and h is not g
    assert f('x {"name": "a"}') == {'name': 'a'}
    assert repr(f) == "JsonFormatter('[0]')" and repr(g) == "JsonFormatter('[0]{name}')"


def test_pipe_with_plain_callables_on_either_side():
    upper = (lambda s: s.upper())
    assert (JsonFormatter('[0]{n}') | str.upper)('{"n": "ab"}') == 'AB'
    assert (upper | JsonFormatter('[0]{N}'))('{"n": "ab"}') == 'AB'


def test_pipes_flatten_and_have_a_readable_repr():
    def shout(s):
        return s + '!'
    h = EmptyFormatter() | JsonFormatter('[0]{a}') | shout
    assert len(h.steps) == 3
    assert repr(h) == "EmptyFormatter() | JsonFormatter('[0]{a}') | " + shout.__qualname__
    assert h('{"a": "hi"}') == 'hi!'
    k = h | EmptyFormatter()
    assert len(k.steps) == 4 and len(h.steps) == 3


def test_non_callables_cannot_be_composed():
    with pytest.raises(TypeError):
        JsonFormatter() | 3
    with pytest.raises(InputError, match='must be a callable'):
        PipeFormatter(JsonFormatter(), 'x')


def test_custom_formatter_protocol_and_lazyllm_alias():
    class Strip(FormatterBase):
        def format(self, output):
            return output.strip()
    assert (Strip() | str.title)('  hi there ') == 'Hi There'
    assert repr(Strip()) == 'Strip()'
    assert LazyLLMFormatterBase is FormatterBase
