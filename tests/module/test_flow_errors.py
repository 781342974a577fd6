"""A step's exception keeps its type and gains one note naming the flow path."""
import sys
import traceback

import pytest

from lazyllm import ifs, loop, parallel, pipeline, switch


class Boom(Exception):
    pass


def boom(*args, **kwargs):
    raise Boom('bad value')


needs_add_note = pytest.mark.skipif(sys.version_info < (3, 11),
                                    reason='exception notes are shown from Python 3.11')


def notes_of(excinfo):
    return getattr(excinfo.value, '__notes__', [])


def test_nested_path_is_one_note_and_the_type_is_kept():
    with pipeline(name='outer') as p:
        p.f1 = lambda x: x
        with pipeline() as p.f2:
            p.f2.ok = lambda x: x
            p.f2.bad = boom
    with pytest.raises(Boom, match='bad value') as info:
        p(1)
    assert type(info.value) is Boom
    assert notes_of(info) == ["in pipeline 'outer' -> step 'f2' (pipeline) -> step 'bad'"]


def test_unnamed_steps_are_given_by_index():
    p = pipeline(str, pipeline(str, boom))
    with pytest.raises(Boom) as info:
        p(1)
    assert notes_of(info) == ['in pipeline -> step 1 (pipeline) -> step 1']


@needs_add_note
def test_note_shows_in_the_traceback():
    with pytest.raises(Boom) as info:
        pipeline(boom, name='p')(1)
    text = ''.join(traceback.format_exception(info.value))
    assert "in pipeline 'p' -> step 0" in text


def test_flow_inside_a_parallel_branch():
    p = pipeline(str, parallel(str, pipeline(boom)))
    with pytest.raises(Boom) as info:
        p(1)
    assert len(notes_of(info)) == 1
    assert notes_of(info)[0].startswith('in pipeline -> step 1 (parallel)')
    assert notes_of(info)[0].endswith('(pipeline) -> step 0')


def test_loop_switch_and_ifs_name_their_part():
    with pytest.raises(Boom) as info:
        loop(str, count=2, stop_condition=boom)(1)
    assert notes_of(info) == ['in loop -> stop_condition']
    with pytest.raises(Boom) as info:
        switch(boom, str)(1)
    assert notes_of(info) == ['in switch -> condition 0']
    with pytest.raises(Boom) as info:
        switch('default', boom)(1)
    assert notes_of(info) == ['in switch -> step 0']
    with pytest.raises(Boom) as info:
        ifs(boom, str, str)(1)
    assert notes_of(info) == ['in ifs -> condition']
    with pytest.raises(Boom) as info:
        ifs(False, str, boom)(1)
    assert notes_of(info) == ["in ifs -> step 'false_path'"]


@needs_add_note
def test_an_existing_note_of_the_user_is_kept():
    def noted(x):
        e = Boom('x')
        e.add_note('user note')
        raise e
    with pytest.raises(Boom) as info:
        pipeline(pipeline(noted))(1)
    assert notes_of(info) == ['user note', 'in pipeline -> step 0 (pipeline) -> step 0']


def test_a_second_call_gets_a_fresh_note():
    p = pipeline(boom)
    for _ in range(2):
        with pytest.raises(Boom) as info:
            p(1)
        assert notes_of(info) == ['in pipeline -> step 0']
