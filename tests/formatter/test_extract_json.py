import pytest

from lazyllm.formatter import extract_json


def test_valid_json_in_prose_and_braces_inside_strings():
    text = 'Note {not json} and [broken, then {"s": "a } { b ]", "n": [1, {"x": 2}]} end'
    assert extract_json(text) == [{'s': 'a } { b ]', 'n': [1, {'x': 2}]}]


def test_fenced_json_blocks_are_preferred_over_bracketed_prose():
    text = 'As shown in [1], here it is:\n```json\n{"ok": true}\n```\nand ```JSON\n[3]\n```'
    assert extract_json(text) == [{'ok': True}, [3]]
    assert extract_json('see [1] and {"a": 2}') == [[1], {'a': 2}]
    assert extract_json('```json\nnot json\n```\n{"a": 1}') == [{'a': 1}]


@pytest.mark.parametrize('text, expected', [
    ('{"name": "Bob"}后面还有{name: "Charlie"}', [{'name': 'Bob'}, {'name': 'Charlie'}]),
    ("It's here: {'k': 'v', 'n': 1,}", [{'k': 'v', 'n': 1}]),
    ('{"ok": True, "v": None}', [{'ok': True, 'v': None}]),
    ('[1, 2, 3,]', [[1, 2, 3]]),
    ('```json\n{"a": 1,}\n```', [{'a': 1}]),
])
def test_almost_json_is_repaired(text, expected):
    assert extract_json(text) == expected


@pytest.mark.parametrize('text, expected', [
    ('{"a": [1, 2], "b": {"c": "unterminated', [{'a': [1, 2], 'b': {'c': 'unterminated'}}]),
    ('x {"a": 1, "b": [1,', [{'a': 1, 'b': [1]}]),
    ('{"a": [1, 2], "b": tru', [{'a': [1, 2], 'b': True}]),
    ('{"a": 1, "b": nul', [{'a': 1, 'b': None}]),
])
def test_output_cut_off_by_the_token_limit_is_completed(text, expected):
    assert extract_json(text) == expected


@pytest.mark.parametrize('text', [
    '[see above]', '{not json}', 'He said [citation needed].', '{a b: 1}', 'plain text',
    '[broken, then', '{"a": 1, "b": oops}',
])
def test_prose_in_brackets_is_never_made_into_data(text):
    assert extract_json(text) == []


def test_bracket_heavy_prose_stays_fast():
    import time
    text = '[' * 5000 + 'words ' * 2000
    started = time.perf_counter()
    assert extract_json(text) == []
    assert time.perf_counter() - started < 5
