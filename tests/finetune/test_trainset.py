import json

import pytest

from lazyllm.errors import InputError
from lazyllm.finetune._trainset import Trainset, load_trainset


def jsonl(path, *records):
    path.write_text(''.join(json.dumps(r, ensure_ascii=False) + '\n' for r in records),
                    encoding='utf-8')
    return path


def dump(path, doc):
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding='utf-8')
    return path


PAIR = {'query': 'what is rain', 'pos': ['water falling'], 'neg': ['a desert']}
CHAT = {'messages': [{'role': 'user', 'content': 'hi'},
                     {'role': 'assistant', 'content': 'hello'}]}
CHAT_OUT = {'messages': [{'role': 'user', 'content': 'hi'},
                         {'role': 'assistant', 'content': 'hello'}]}


# ---- embed / rerank ----

@pytest.mark.parametrize('record, expected', [
    (PAIR, PAIR),
    ({'query': 'q', 'pos': 'p'}, {'query': 'q', 'pos': ['p'], 'neg': []}),
    ({'query': 'q', 'pos': ['p1', 'p2'], 'neg': 'n'}, {'query': 'q', 'pos': ['p1', 'p2'],
                                                      'neg': ['n']}),
    ({'query': 'q', 'pos': ['p'], 'neg': []}, {'query': 'q', 'pos': ['p'], 'neg': []}),
    ({'query': 'q', 'pos': ['p'], 'neg': None}, {'query': 'q', 'pos': ['p'], 'neg': []}),
    ({'anchor': 'q', 'positive': 'p', 'negative': 'n'}, {'query': 'q', 'pos': ['p'],
                                                         'neg': ['n']}),
    ({'anchor': 'q', 'positive': ['p'], 'negative': ['n1', 'n2']},
     {'query': 'q', 'pos': ['p'], 'neg': ['n1', 'n2']}),
    ({'query': 'q', 'pos': ['p'], 'neg': ['n'], 'pos_scores': [1.0], 'neg_scores': [0.1],
      'prompt': 'Represent: ', 'type': 'normal', 'id': 7, 'whatever': {'x': 1}},
     {'query': 'q', 'pos': ['p'], 'neg': ['n']}),
    ({'query': '雨是什么', 'pos': ['从云中落下的水']},
     {'query': '雨是什么', 'pos': ['从云中落下的水'], 'neg': []}),
], ids=['full', 'pos-str', 'neg-str', 'neg-empty-list', 'neg-null', 'aliases-str',
        'aliases-list', 'extra-fields-dropped', 'unicode'])
@pytest.mark.parametrize('task', ['embed', 'rerank'])
def test_pair_shapes_normalize(tmp_path, task, record, expected):
    ts = load_trainset(jsonl(tmp_path / 'pairs.jsonl', record), task)
    assert ts.records == [expected]
    assert ts.counts == {'records': 1, 'pos': len(expected['pos']),
                         'neg': len(expected['neg'])}


def test_jsonl_file(tmp_path):
    f = tmp_path / 'my pairs (v2).jsonl'
    f.write_text('\ufeff' + json.dumps(PAIR) + '\n\n   \n' + json.dumps(
        {'anchor': 'a', 'positive': 'b'}) + '\n', encoding='utf-8')
    ts = load_trainset(str(f), 'embed')
    assert isinstance(ts, Trainset)
    assert ts.records == [PAIR, {'query': 'a', 'pos': ['b'], 'neg': []}]
    assert ts.name == 'my_pairs_v2'
    assert ts.sources == [str(f)]
    assert ts.counts == {'records': 2, 'pos': 2, 'neg': 1}
    assert len(ts) == 2


def test_json_list_and_object_with_one_list(tmp_path):
    a = load_trainset(dump(tmp_path / 'a.json', [PAIR, PAIR]), 'embed')
    b = load_trainset(dump(tmp_path / 'b.json', {'version': 2, 'data': [PAIR]}), 'rerank')
    assert a.records == [PAIR, PAIR] and a.name == 'a'
    assert b.records == [PAIR] and b.name == 'b' and b.sources == [str(tmp_path / 'b.json')]


def test_json_file_holding_json_lines_is_read_as_lines(tmp_path):
    ts = load_trainset(jsonl(tmp_path / 'lines.json', PAIR, PAIR), 'embed')
    assert ts.records == [PAIR, PAIR]


def test_folder_of_mixed_files_in_name_order(tmp_path):
    d = tmp_path / 'my-data'
    d.mkdir()
    jsonl(d / 'b.jsonl', {'query': 'b', 'pos': 'pb'})
    dump(d / 'a.json', {'rows': [{'anchor': 'a', 'positive': 'pa'}]})
    jsonl(d / 'c.JSONL', {'query': 'c', 'pos': ['pc']})
    (d / 'README.md').write_text('not data')
    (d / '.hidden.jsonl').write_bytes(b'\xff\xfe junk')
    (d / 'sub').mkdir()
    jsonl(d / 'sub' / 'z.jsonl', {'query': 'z', 'pos': 'pz'})
    ts = load_trainset(d, 'embed')
    assert [r['query'] for r in ts.records] == ['a', 'b', 'c']
    assert ts.name == 'my-data'
    assert ts.sources == [str(d / 'a.json'), str(d / 'b.jsonl'), str(d / 'c.JSONL')]


def test_python_list_and_tuple(tmp_path):
    ts = load_trainset([{'anchor': 'q', 'positive': ('p1', 'p2')}], 'embed')
    assert ts.records == [{'query': 'q', 'pos': ['p1', 'p2'], 'neg': []}]
    assert ts.name == 'list' and ts.sources == []
    assert load_trainset((CHAT,), 'llm').records == [CHAT_OUT]


def test_home_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv('HOME', str(tmp_path))
    jsonl(tmp_path / 'p.jsonl', PAIR)
    assert load_trainset('~/p.jsonl', 'embed').sources == [str(tmp_path / 'p.jsonl')]


def test_folder_given_as_dot_is_named_by_its_real_name(tmp_path, monkeypatch):
    d = tmp_path / 'pairs-2024'
    d.mkdir()
    jsonl(d / 'x.jsonl', PAIR)
    monkeypatch.chdir(d)
    assert load_trainset('.', 'embed').name == 'pairs-2024'


def test_name_is_sanitized_and_short(tmp_path):
    f = jsonl(tmp_path / ('数据 ' + 'x' * 60 + '.jsonl'), PAIR)
    assert load_trainset(f, 'embed').name == 'x' * 40
    assert load_trainset(jsonl(tmp_path / '训练.jsonl', PAIR), 'embed').name == 'trainset'


def test_write_round_trip(tmp_path):
    records = [{'query': '雨', 'pos': ['水\n"quoted"'], 'neg': []}]
    ts = load_trainset(records, 'embed')
    out = ts.write(tmp_path / 'run' / 'trainset.jsonl')
    text = out.read_text(encoding='utf-8')
    assert '雨' in text and text.count('\n') == 1
    assert load_trainset(out, 'embed').records == records
    from lazyllm.finetune.jobs._protocol import JobConfig
    assert JobConfig('embed', '', str(out), '').records() == records


# ---- llm ----

@pytest.mark.parametrize('record, expected', [
    ({'instruction': 'Translate to French.', 'input': 'cat', 'output': 'chat'},
     [{'role': 'user', 'content': 'Translate to French.\n\ncat'},
      {'role': 'assistant', 'content': 'chat'}]),
    ({'instruction': 'Name a colour.', 'output': 'red'},
     [{'role': 'user', 'content': 'Name a colour.'}, {'role': 'assistant', 'content': 'red'}]),
    ({'instruction': 'Name a colour.', 'input': '', 'output': 'red', 'system': 'Be brief.'},
     [{'role': 'system', 'content': 'Be brief.'},
      {'role': 'user', 'content': 'Name a colour.'}, {'role': 'assistant', 'content': 'red'}]),
    ({'instruction': 'I', 'input': None, 'output': 'O', 'system': '', 'id': 3},
     [{'role': 'user', 'content': 'I'}, {'role': 'assistant', 'content': 'O'}]),
    ({'instruction': '', 'input': 'only input', 'output': 'O'},
     [{'role': 'user', 'content': 'only input'}, {'role': 'assistant', 'content': 'O'}]),
    ({'instruction': 'now', 'output': 'B', 'history': [['q1', 'a1']]},
     [{'role': 'user', 'content': 'q1'}, {'role': 'assistant', 'content': 'a1'},
      {'role': 'user', 'content': 'now'}, {'role': 'assistant', 'content': 'B'}]),
    (CHAT, CHAT_OUT['messages']),
    ({'messages': [{'role': 'system', 'content': 'S'},
                   {'role': 'user', 'content': [{'type': 'text', 'text': 'a'},
                                                {'type': 'text', 'text': 'b'}]},
                   {'role': 'assistant', 'content': 'c', 'name': 'bot', 'weight': 1},
                   {'role': 'user', 'content': 'd'},
                   {'role': 'assistant', 'content': 'e'}], 'id': 'x'},
     [{'role': 'system', 'content': 'S'}, {'role': 'user', 'content': 'a\nb'},
      {'role': 'assistant', 'content': 'c'}, {'role': 'user', 'content': 'd'},
      {'role': 'assistant', 'content': 'e'}]),
    ({'messages': [{'role': 'system', 'content': ''}, {'role': 'user', 'content': 'u'},
                   {'role': 'assistant', 'content': 'a'}]},
     [{'role': 'user', 'content': 'u'}, {'role': 'assistant', 'content': 'a'}]),
    ({'conversations': [{'from': 'system', 'value': 'S'}, {'from': 'human', 'value': 'u'},
                        {'from': 'gpt', 'value': 'a'}]},
     [{'role': 'system', 'content': 'S'}, {'role': 'user', 'content': 'u'},
      {'role': 'assistant', 'content': 'a'}]),
    ({'system': 'S', 'conversations': [{'from': 'user', 'value': 'u'},
                                       {'from': 'assistant', 'value': 'a'}]},
     [{'role': 'system', 'content': 'S'}, {'role': 'user', 'content': 'u'},
      {'role': 'assistant', 'content': 'a'}]),
], ids=['alpaca-input', 'alpaca-no-input', 'alpaca-system', 'alpaca-null-input',
        'alpaca-input-only', 'alpaca-history', 'chat', 'chat-parts-multi-turn',
        'chat-empty-system', 'sharegpt', 'sharegpt-system-field'])
def test_llm_shapes_normalize(tmp_path, record, expected):
    ts = load_trainset(jsonl(tmp_path / 'sft.jsonl', record), 'llm')
    assert ts.records == [{'messages': expected}]
    assert ts.counts == {'records': 1,
                         'turns': sum(m['role'] == 'assistant' for m in expected)}


def test_llm_mixed_shapes_across_files_and_containers(tmp_path):
    d = tmp_path / 'sft'
    d.mkdir()
    dump(d / '1-alpaca.json', [{'instruction': 'i', 'output': 'o'}])
    dump(d / '2-share.json', {'items': [
        {'conversations': [{'from': 'human', 'value': 'u'}, {'from': 'gpt', 'value': 'a'}]}]})
    jsonl(d / '3-chat.jsonl', CHAT)
    ts = load_trainset(d, 'llm')
    assert ts.records == [
        {'messages': [{'role': 'user', 'content': 'i'}, {'role': 'assistant', 'content': 'o'}]},
        {'messages': [{'role': 'user', 'content': 'u'}, {'role': 'assistant', 'content': 'a'}]},
        CHAT_OUT]
    assert ts.counts == {'records': 3, 'turns': 3}
    assert len(ts.sources) == 3
    out = ts.write(tmp_path / 'out.jsonl')
    assert load_trainset(out, 'llm').records == ts.records


def test_large_file_loads(tmp_path):
    f = tmp_path / 'big.jsonl'
    with open(f, 'w', encoding='utf-8') as fh:
        for i in range(20000):
            fh.write(json.dumps({'query': f'q{i}', 'pos': [f'p{i}'], 'neg': [f'n{i}', 'x']})
                     + '\n')
    ts = load_trainset(f, 'embed')
    assert ts.counts == {'records': 20000, 'pos': 20000, 'neg': 40000}
    assert ts.records[-1] == {'query': 'q19999', 'pos': ['p19999'], 'neg': ['n19999', 'x']}


# ---- errors ----

def _line(record):
    return json.dumps(record, ensure_ascii=False) if not isinstance(record, str) else record


# (task, bad record or raw line, words the message must contain besides file and place)
BAD_RECORDS = [
    ('embed', {'query': 'q', 'pos': 3}, ['"pos" must be a non-empty list of str',
                                         '3 (a number)', '"pos": ["…"]']),
    ('embed', {'query': 'q', 'pos': []}, ['"pos" must be a non-empty list', 'give']),
    ('embed', {'query': 'q', 'pos': ''}, ['"pos" is empty']),
    ('embed', {'query': 'q', 'pos': ['ok', 2]}, ['"pos"[1] must be a str', '2 (a number)']),
    ('embed', {'query': 'q', 'pos': ['ok', ' ']}, ['"pos"[1] is empty']),
    ('embed', {'query': 'q'}, ['"pos" is missing']),
    ('embed', {'query': '', 'pos': ['p']}, ['"query" is empty', 'give the query text']),
    ('embed', {'query': 5, 'pos': ['p']}, ['"query" must be a str', '5 (a number)']),
    ('embed', {'pos': ['p']}, ['"query" is missing', '"anchor"']),
    ('embed', {'query': 'q', 'anchor': 'q', 'pos': 'p'}, ['"query" and "anchor"',
                                                          'keep one spelling']),
    ('embed', {'query': 'q', 'pos': 'p', 'positive': 'p'}, ['"pos" and "positive"']),
    ('embed', {'query': 'q', 'pos': 'p', 'neg': 'n', 'negative': 'n'}, ['"neg" and "negative"']),
    ('embed', {'query': 'q', 'pos': 'p', 'neg': [None]}, ['"neg"[0] must be a str', 'null']),
    ('embed', {'query': 'q', 'negative': 4, 'pos': 'p'}, ['"negative" must be', 'leave']),
    ('rerank', {'anchor': 'q', 'positive': {'a': 1}}, ['"positive" must be', 'an object']),
    ('embed', {'instruction': 'i', 'output': 'o'}, ['"query" is missing', "task='llm'"]),
    ('embed', ['q', 'p'], ['not an object', '(a list)']),
    ('embed', '{"query": "q" "pos": []}', ['not valid JSON', "Expecting ','",
                                           'each line is one JSON object']),
    ('llm', {'instruction': 'i', 'output': ''}, ['"output" is empty',
                                                 'the answer to train on']),
    ('llm', {'instruction': 'i', 'input': 'x'}, ['"output" is missing']),
    ('llm', {'output': 'o'}, ['"instruction" is missing']),
    ('llm', {'instruction': '', 'output': 'o'}, ['"instruction" is empty']),
    ('llm', {'instruction': ['i'], 'output': 'o'}, ['"instruction" must be a str']),
    ('llm', {'instruction': 'i', 'input': 3, 'output': 'o'}, ['"input" must be a str']),
    ('llm', {'instruction': 'i', 'output': 7}, ['"output" must be a str', '7 (a number)']),
    ('llm', {'instruction': 'i', 'output': 'o', 'system': 1}, ['"system" must be a str']),
    ('llm', {'instruction': 'i', 'output': 'o', 'history': [['q']]}, ['"history"[0]']),
    ('llm', {'instruction': 'i', 'output': 'o', 'history': 'x'}, ['"history" must be a list']),
    ('llm', {'messages': []}, ['"messages" must be a non-empty list']),
    ('llm', {'messages': 'hi'}, ['"messages" must be a non-empty list', '(a string)']),
    ('llm', {'messages': ['hi']}, ['"messages"[0] must be a {"role", "content"} object']),
    ('llm', {'messages': [{'role': 'user', 'content': 'q'}, {'role': 'tool', 'content': 'r'}]},
     ['"messages"[1] is a "tool" message', 'not supported for finetuning yet', 'remove']),
    ('llm', {'messages': [{'role': 'user', 'content': 'q'},
                          {'role': 'assistant', 'content': None, 'tool_calls': [{'id': 1}]}]},
     ['"messages"[1] has "tool_calls"', 'not supported for finetuning yet']),
    ('llm', {'messages': [{'role': 'bot', 'content': 'q'}]},
     ['"messages"[0] has role "bot"', '"assistant"']),
    ('llm', {'messages': [{'role': 'user'}]}, ['"messages"[0] has no "content"']),
    ('llm', {'messages': [{'role': 'user', 'content': 1}]},
     ['"messages"[0].content must be a str', '1 (a number)']),
    ('llm', {'messages': [{'role': 'user', 'content': [
        {'type': 'image_url', 'image_url': {'url': 'x'}}]}, {'role': 'assistant', 'content': 'a'}]},
     ['"messages"[0].content has a "image_url" part', 'only text']),
    ('llm', {'messages': [{'role': 'user', 'content': 'q'}, {'role': 'assistant', 'content': ''}]},
     ['"messages"[1] (assistant) has empty content']),
    ('llm', {'messages': [{'role': 'user', 'content': 'q'}]},
     ['"messages" has no assistant message']),
    ('llm', {'messages': [{'role': 'user', 'content': 'q'}, {'role': 'assistant', 'content': 'a'},
                          {'role': 'user', 'content': 'again'}]},
     ['"messages" ends with a user message', 'trains nothing', "end each conversation with the "
                                                               "assistant's answer"]),
    ('llm', {'messages': [{'role': 'user', 'content': 'q'}, {'role': 'system', 'content': 's'},
                          {'role': 'assistant', 'content': 'a'}]},
     ['"messages"[1] is a system message after the first turn']),
    ('llm', {'conversations': [{'from': 'human', 'value': 'q'}, {'from': 'robot', 'value': 'a'}]},
     ['"conversations"[1] has "from" "robot"', '"gpt"']),
    ('llm', {'conversations': [{'from': 'human', 'value': 'q'},
                               {'from': 'function_call', 'value': '{}'}]},
     ['"conversations"[1] is a "function_call" turn', 'not supported for finetuning yet']),
    ('llm', {'conversations': [{'from': 'human', 'value': 'q'}, {'from': 'gpt', 'value': 3}]},
     ['"conversations"[1].value must be a str']),
    ('llm', {'system': 'S', 'conversations': [{'from': 'human', 'value': 'q'},
                                              {'from': 'gpt', 'value': ''}]},
     ['"conversations"[1] (assistant) has empty content']),
    ('llm', {'conversations': [{'from': 'gpt', 'value': 'a'}, {'from': 'human', 'value': 'q'}]},
     ['"conversations" ends with a user message']),
    ('llm', {'instruction': 'i', 'output': 'o', 'messages': []}, ['mixes shapes',
                                                                   '"instruction"']),
    ('llm', {'prompt': 'p', 'completion': 'c'}, ['none of the accepted shapes', '"prompt"',
                                                 'alpaca', 'OpenAI chat', 'ShareGPT']),
    ('llm', {'query': 'q', 'pos': ['p']}, ['none of the accepted shapes', "task='embed'"]),
    ('llm', 42, ['not an object', '42 (a number)']),
]


def _ids():
    seen = {}
    out = []
    for task, _, words in BAD_RECORDS:
        key = f'{task}-{words[0][:30]}'
        seen[key] = seen.get(key, 0) + 1
        out.append(key if seen[key] == 1 else f'{key}-{seen[key]}')
    return out


def _assert_failed(exc, *words):
    msg = str(exc.value)
    for w in words:
        assert w in msg, f'{w!r} not in {msg!r}'


@pytest.mark.parametrize('task, bad, words', BAD_RECORDS, ids=_ids())
def test_bad_record_in_jsonl_names_file_line_and_field(tmp_path, task, bad, words):
    good = PAIR if task != 'llm' else CHAT
    f = tmp_path / 'data.jsonl'
    f.write_text('\n'.join([_line(good), '', _line(good), _line(bad), _line(good)]) + '\n',
                 encoding='utf-8')
    with pytest.raises(InputError) as exc:
        load_trainset(f, task)
    _assert_failed(exc, f'{f}:4: ', *words)


@pytest.mark.parametrize('task, bad, words', [b for b in BAD_RECORDS if not isinstance(b[1], str)],
                         ids=[i for i, b in zip(_ids(), BAD_RECORDS) if not isinstance(b[1], str)])
def test_bad_record_in_json_list_and_python_list(tmp_path, task, bad, words):
    good = PAIR if task != 'llm' else CHAT
    f = dump(tmp_path / 'data.json', {'data': [good, good, bad, good]})
    with pytest.raises(InputError) as exc:
        load_trainset(f, task)
    _assert_failed(exc, f'{f}: record #3: ', *words)
    with pytest.raises(InputError) as exc:
        load_trainset([good, bad], task)
    _assert_failed(exc, 'record #2 of the trainset list: ', *words)


def test_first_bad_record_wins_and_folder_names_the_file(tmp_path):
    d = tmp_path / 'set'
    d.mkdir()
    jsonl(d / 'a.jsonl', PAIR, PAIR)
    jsonl(d / 'b.jsonl', PAIR, {'query': 'q', 'pos': 1}, {'query': 'q'})
    jsonl(d / 'c.jsonl', {'nothing': 1})
    with pytest.raises(InputError) as exc:
        load_trainset(d, 'embed')
    assert str(exc.value).startswith(f'{d / "b.jsonl"}:2: "pos" must be')


def _not_utf8(tmp_path):
    f = tmp_path / 'latin.jsonl'
    f.write_bytes(json.dumps(PAIR).encode() + b'\n' + '{"query": "café", "pos": "x"}\n'
                  .encode('latin-1'))
    return f, [f'{f}:2: ', 'not UTF-8', 'save the file as UTF-8']


def _not_utf8_json(tmp_path):
    f = tmp_path / 'latin.json'
    f.write_bytes('[{"query": "café", "pos": "x"}]'.encode('latin-1'))
    return f, [str(f), 'not UTF-8', 'save the file as UTF-8']


def _missing(tmp_path):
    f = tmp_path / 'nope.jsonl'
    return f, [str(f), 'does not exist', '.jsonl']


def _wrong_suffix(tmp_path):
    f = tmp_path / 'data.csv'
    f.write_text('query,pos\n')
    return f, [str(f), 'not a .jsonl or .json file']


def _empty_folder(tmp_path):
    d = tmp_path / 'empty'
    d.mkdir()
    (d / 'notes.txt').write_text('x')
    return d, [str(d), 'has no .jsonl or .json files']


def _empty_jsonl(tmp_path):
    f = tmp_path / 'blank.jsonl'
    f.write_text('\n  \n')
    return f, [str(f), 'holds no records', 'at least one']


def _empty_json_list(tmp_path):
    return dump(tmp_path / 'e.json', []), ['e.json holds no records']


def _bad_json(tmp_path):
    f = tmp_path / 'broken.json'
    f.write_text('[{"query": "q",\n "pos": ]')
    return f, [str(f), 'not valid JSON', 'line 2 column', 'fix the file']


def _pretty_json_named_jsonl(tmp_path):
    f = tmp_path / 'pretty.jsonl'
    f.write_text(json.dumps([PAIR], indent=2))
    return f, [f'{f}:1: ', 'not valid JSON', 'name it .json']


def _json_scalar(tmp_path):
    return dump(tmp_path / 's.json', 'text'), ['s.json holds "text" (a string)',
                                                'not a list of records']


def _json_single_record(tmp_path):
    return dump(tmp_path / 'one.json', PAIR), ['one.json holds a single record',
                                                'put the records in a list']


def _json_two_lists(tmp_path):
    return (dump(tmp_path / 'two.json', {'train': [PAIR], 'test': [PAIR]}),
            ['two.json is an object with several lists', '"train", "test"'])


def _bad_type(tmp_path):
    return {'data': [PAIR]}, ['cannot use a dict as a trainset', 'a Python list of dicts']


def _bad_task(tmp_path):
    return [PAIR], ["unknown finetune task 'classify'", 'embed, rerank, llm']


@pytest.mark.parametrize('make', [
    _not_utf8, _not_utf8_json, _missing, _wrong_suffix, _empty_folder, _empty_jsonl,
    _empty_json_list, _bad_json, _pretty_json_named_jsonl, _json_scalar, _json_single_record,
    _json_two_lists, _bad_type, _bad_task])
def test_file_level_errors(tmp_path, make):
    data, words = make(tmp_path)
    task = 'classify' if make is _bad_task else 'embed'
    with pytest.raises(InputError) as exc:
        load_trainset(data, task)
    _assert_failed(exc, *words)


def test_empty_python_list_is_an_error():
    with pytest.raises(InputError, match='the trainset list holds no records'):
        load_trainset([], 'llm')
