import pytest

import lazyllm
from lazyllm.errors import InputError
from lazyllm.formatter import (
    EmptyFormatter,
    FormatterBase,
    JsonFormatter,
    JsonLikeFormatter,
    LazyLLMFormatterBase,
    PipeFormatter,
)


def test_pipe_applies_left_then_right_and_does_not_change_operands():
    f, g = JsonFormatter('[user]'), JsonLikeFormatter('[name]')
    h = f | g
    assert h('x {"user": {"name": "a"}}') == 'a'
    assert isinstance(h, PipeFormatter) and h is not f and h is not g
    assert f('x {"user": {"name": "a"}}') == {'name': 'a'}
    assert repr(f) == "JsonFormatter('[user]')" and repr(g) == "JsonLikeFormatter('[name]')"


def test_pipe_with_plain_callables_on_either_side():
    assert (JsonFormatter('[n]') | str.upper)('{"n": "ab"}') == 'AB'
    assert ((lambda s: s.upper()) | JsonFormatter('[N]'))('{"n": "ab"}') == 'AB'


def test_a_function_in_front_takes_all_the_arguments():
    f = (lambda x, y, z: [x, y, z]) | JsonFormatter('[0,2]')
    assert f(1, 2, 3) == [1, 3]


def test_a_package_is_unpacked_into_the_next_function():
    f = JsonFormatter('*[0,1]') | (lambda a, b: a + b)
    assert f([3, 4, 5]) == 7


def test_pipes_flatten_and_have_a_readable_repr():
    def shout(s):
        return s + '!'
    h = EmptyFormatter() | JsonFormatter('[a]') | shout
    assert len(h.steps) == 3
    assert repr(h) == "EmptyFormatter() | JsonFormatter('[a]') | " + shout.__qualname__
    assert h('{"a": "hi"}') == 'hi!'
    k = h | EmptyFormatter()
    assert len(k.steps) == 4 and len(h.steps) == 3


def test_non_callables_cannot_be_composed():
    with pytest.raises(TypeError):
        JsonFormatter() | 3
    with pytest.raises(InputError, match='must be a callable'):
        PipeFormatter(JsonFormatter(), 'x')
    with pytest.raises(InputError, match='at least one step'):
        PipeFormatter()
    with pytest.raises(InputError, match='nothing to format'):
        (JsonFormatter() | str)()


def test_custom_formatter_protocols():
    class Strip(FormatterBase):           # ours: override format
        def format(self, output):
            return output.strip()

    class Words(LazyLLMFormatterBase):    # LazyLLM's: _load then _parse_py_data_by_formatter
        def _load(self, text):
            return text.split()

        def _parse_py_data_by_formatter(self, data):
            return len(data)
    assert (Strip() | str.title)('  hi there ') == 'Hi There'
    assert Words()('a b c') == 3 and Words()(['x']) == 1
    assert Words()({'role': 'assistant', 'content': 'one two'}) == 2
    assert repr(Strip()) == 'Strip()'

    class Nothing(FormatterBase):
        pass
    with pytest.raises(NotImplementedError, match='must override format'):
        Nothing()('x')


def test_formatter_called_with_several_values_formats_a_package():
    out = EmptyFormatter()(1, 2)
    assert isinstance(out, lazyllm.package) and tuple(out) == (1, 2)
