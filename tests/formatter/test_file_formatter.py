import pytest

import lazyllm
from lazyllm.errors import FormatError, InputError
from lazyllm.formatter import (
    FileFormatter,
    decode_query_with_filepaths,
    encode_query_with_filepaths,
    lazyllm_merge_query,
)

ENCODED = '<lazyllm-query>{"query": "read", "files": ["a.txt"]}'


def test_encode_and_decode_round_trip():
    assert encode_query_with_filepaths('read', ['a.txt']) == ENCODED
    assert encode_query_with_filepaths('read', 'a.txt') == ENCODED
    assert decode_query_with_filepaths(ENCODED) == {'query': 'read', 'files': ['a.txt']}
    assert decode_query_with_filepaths('  ' + ENCODED) == {'query': 'read', 'files': ['a.txt']}


def test_no_files_means_the_plain_query():
    assert encode_query_with_filepaths('q') == 'q'
    assert encode_query_with_filepaths(None, []) == ''
    assert decode_query_with_filepaths(' plain \n') == ' plain \n'


def test_merge_joins_queries_and_collects_files():
    assert lazyllm_merge_query('a', ENCODED, ENCODED) == \
        '<lazyllm-query>{"query": "areadread", "files": ["a.txt", "a.txt"]}'
    assert lazyllm_merge_query('a', 'b') == 'ab'
    assert lazyllm_merge_query(ENCODED) == ENCODED


def test_query_function_errors():
    with pytest.raises(InputError, match='files must be a path'):
        encode_query_with_filepaths('q', [1])
    with pytest.raises(InputError, match='the query must be a str'):
        encode_query_with_filepaths(3, ['a'])
    with pytest.raises(InputError, match='takes a str'):
        decode_query_with_filepaths(['x'])
    with pytest.raises(FormatError, match='not valid JSON'):
        decode_query_with_filepaths('<lazyllm-query>{"query": ')
    with pytest.raises(FormatError, match='is not a query with files'):
        decode_query_with_filepaths('<lazyllm-query>[1]')
    with pytest.raises(InputError, match='only str queries can be merged, got int'):
        lazyllm_merge_query('a', 1)


def test_decode_mode():
    f = FileFormatter()
    assert f(ENCODED) == {'query': 'read', 'files': ['a.txt']}
    assert f('hi') == 'hi' and f(['a']) == ['a']
    out = f(ENCODED, 'hi')
    assert isinstance(out, lazyllm.package)
    assert tuple(out) == ({'query': 'read', 'files': ['a.txt']}, 'hi')


def test_encode_mode():
    f = FileFormatter('encode')
    assert f({'query': 'read', 'files': ['a.txt']}) == ENCODED
    assert f({'query': 'q', 'files': []}) == 'q'
    assert f('hi') == 'hi' and f(ENCODED) == ENCODED and f({'other': 1}) == {'other': 1}
    with pytest.raises(FormatError, match=r"cannot encode \['extra'\]"):
        f({'query': 'q', 'files': [], 'extra': 1})


def test_merge_mode():
    f = FileFormatter(' Merge ')
    assert f('hi') == 'hi'
    assert f('hi', ENCODED) == '<lazyllm-query>{"query": "hiread", "files": ["a.txt"]}'
    with pytest.raises(FormatError, match='call it with the queries to merge'):
        f(['hi', 'there'])
    with pytest.raises(FormatError, match='merges str queries, got int'):
        f('hi', 3)


def test_bad_mode_is_an_input_error():
    with pytest.raises(InputError, match="FileFormatter mode 'zip' is not one of"):
        FileFormatter('zip')
    with pytest.raises(InputError, match='is not one of'):
        FileFormatter(None)
    assert repr(FileFormatter('encode')) == "FileFormatter('encode')"
