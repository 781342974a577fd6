"""Tool calls in model text: whole-answer parsing per format, streaming that agrees with it
for any split of the text, the registry, and agent turns rendered through real templates.

Pure, except the last tests, which render through the tokenizers of SmolLM2 and the tiny
Qwen2 (no model weights are loaded). hypothesis is not installed here, so the streaming
equivalence runs every 2- and 3-way split of short texts and seeded random splits of all.
"""
import json
import random
import re

import pytest

from lazyllm.deploy.servers._tool_parsers import (
    FORMATS,
    ToolFormat,
    ToolStream,
    format_for_template,
    register_tool_format,
    tool_format,
)
from lazyllm.deploy.servers._tool_prompt import (
    messages_for_template,
    template_renders_tools,
    tool_system_prompt,
)

H, M, L = FORMATS['hermes'], FORMATS['mistral'], FORMATS['llama3_json']
CALL_F = '{"name": "f", "arguments": {"city": "Paris"}}'
CALL_G = '{"name": "g", "arguments": {"n": 2, "s": "a}b{<tool_call>"}}'


def fn(calls):
    """Calls without their random ids."""
    return [(c['function']['name'], json.loads(c['function']['arguments'])) for c in calls]


@pytest.mark.parametrize('text, content, calls', [
    (f'<tool_call>\n{CALL_F}\n</tool_call>', None, [('f', {'city': 'Paris'})]),
    (f'<tool_call>\n{CALL_F}\n</tool_call>\n<tool_call>\n{CALL_G}\n</tool_call>', None,
     [('f', {'city': 'Paris'}), ('g', {'n': 2, 's': 'a}b{<tool_call>'})]),
    (f'  Let me look.\n\n<tool_call>{CALL_F}</tool_call>', 'Let me look.',
     [('f', {'city': 'Paris'})]),
    (f'<tool_call>  {CALL_F}  </tool_call><tool_call>{CALL_G}', None,   # unclosed last tag
     [('f', {'city': 'Paris'}), ('g', {'n': 2, 's': 'a}b{<tool_call>'})]),
    (f'<tool_call>\n{CALL_F}', None, [('f', {'city': 'Paris'})]),
    ('<tool_call>{"name": "f", "arguments": "{\\"x\\": [1, 2]}"}</tool_call>', None,
     [('f', {'x': [1, 2]})]),
    ('<tool_call>{"name": "f"}</tool_call>', None, [('f', {})]),
    (f'<tool_call>\n{CALL_F}\n</tool_call>\nthen text', None, [('f', {'city': 'Paris'})]),
    (f'<tool_call>{CALL_F}</tool_call> <tool_call>{{"name": 3}}</tool_call>', None,
     [('f', {'city': 'Paris'})]),                   # calls end at the first bad one
])
def test_hermes_calls(text, content, calls):
    got_content, got = H.parse(text)
    assert (got_content, fn(got)) == (content, calls)
    assert all(re.fullmatch(r'call_[0-9a-f]{24}', c['id']) and c['type'] == 'function'
               for c in got)


@pytest.mark.parametrize('text', [
    '<tool_call>\n{"name": "f", "arguments": {"city": "Par</tool_call>',       # broken JSON
    '<tool_call>{"arguments": {}}</tool_call>',                               # no name
    '<tool_call>{"name": ["f"], "arguments": {}}</tool_call>',                # name not str
    '<tool_call>{"name": "f", "arguments": "not json"}</tool_call>',
    '<tool_call>{"name": "f", "arguments": [1]}</tool_call>',
    'Use <tool_call> tags to call a tool.',
    'plain answer', '', '   ',
])
def test_hermes_malformed_is_content(text):
    assert H.parse(text) == (text.strip(), [])


def test_arguments_are_compact_json():
    _, calls = H.parse('<tool_call>{"name": "f", "arguments": {"a": [1, 2], "é": "ü"}}')
    assert calls[0]['function']['arguments'] == '{"a":[1,2],"é":"ü"}'


@pytest.mark.parametrize('text, content, calls', [
    (f'[TOOL_CALLS][{CALL_F}]', None, [('f', {'city': 'Paris'})]),
    (f'[TOOL_CALLS] [ {CALL_F},\n {CALL_G} ]', None,
     [('f', {'city': 'Paris'}), ('g', {'n': 2, 's': 'a}b{<tool_call>'})]),
    (f'Sure.[TOOL_CALLS][{CALL_F}', 'Sure.', [('f', {'city': 'Paris'})]),
    ('[TOOL_CALLS][{"name": "f", "arguments": "{}", "id": "abc123xyz"}]', None, [('f', {})]),
    ('[TOOL_CALLS][{"name": "f", "arguments": {]', '[TOOL_CALLS][{"name": "f", '
                                                    '"arguments": {]', []),
    ('[TOOL_CALLS]{"name": "f", "arguments": {}}', '[TOOL_CALLS]{"name": "f", '
                                                   '"arguments": {}}', []),   # no list
])
def test_mistral_calls(text, content, calls):
    got_content, got = M.parse(text)
    assert (got_content, fn(got)) == (content, calls)


@pytest.mark.parametrize('text, content, calls', [
    ('{"name": "f", "parameters": {"q": 1}}', None, [('f', {'q': 1})]),
    ('  <|python_tag|>{"name": "f", "parameters": {}}; {"name": "g", "parameters": {"a": "b"}}',
     None, [('f', {}), ('g', {'a': 'b'})]),
    ('{"type": "function", "name": "f", "parameters": "{\\"q\\": 2}"}', None, [('f', {'q': 2})]),
    ('{"name": "Bob", "age": 3}', '{"name": "Bob", "age": 3}', []),          # a JSON answer
    ('{"name": "f"}', '{"name": "f"}', []),
    ('Call {"name": "f", "parameters": {}}', 'Call {"name": "f", "parameters": {}}', []),
    ('{"name": "f", "parameters": {', '{"name": "f", "parameters": {', []),
])
def test_llama3_json_calls(text, content, calls):
    got_content, got = L.parse(text)
    assert (got_content, fn(got)) == (content, calls)


def test_write_reads_back():
    calls = [{'id': 'call_1', 'type': 'function',
              'function': {'name': 'f', 'arguments': '{"city": "Paris"}'}},
             {'name': 'g', 'arguments': {'n': 2}}]
    for fmt in (H, M, L):
        text = fmt.write(calls)
        assert fn(fmt.parse(text)[1]) == [('f', {'city': 'Paris'}), ('g', {'n': 2})], text
    assert H.write(calls[:1]) == '<tool_call>\n{"name": "f", "arguments": {"city": "Paris"}}' \
                                 '\n</tool_call>'
    assert L.write(calls[1:]) == '{"name": "g", "parameters": {"n": 2}}'


def test_registry():
    assert set(FORMATS) >= {'hermes', 'mistral', 'llama3_json'}
    assert tool_format('mistral') is M
    with pytest.raises(ValueError, match='hermes.*register_tool_format'):
        tool_format('nope')
    with pytest.raises(ValueError, match="'hermes' is already registered"):
        register_tool_format(ToolFormat('hermes', '', '<x>', '</x>', '', '', 'arguments'))
    fmt = ToolFormat('test_xml', '<calls>', '<call>', '</call>', '', '</calls>', 'arguments')
    try:
        assert register_tool_format(fmt) is tool_format('test_xml')
        content, calls = fmt.parse(f'Hi <calls> <call>{CALL_F}</call><call>{CALL_G}</call>')
        assert content == 'Hi' and [c[0] for c in fn(calls)] == ['f', 'g']
        assert stream(fmt, list(fmt.write(calls)))[1] == fn(calls)
    finally:
        FORMATS.pop('test_xml', None)


@pytest.mark.parametrize('template, name', [
    ('{{ "<tool_call>" }}{% for t in tools %}{% endfor %}', 'hermes'),
    ('[AVAILABLE_TOOLS] {{ tools }} [TOOL_CALLS]', 'mistral'),
    ('<|python_tag|>', 'llama3_json'),
    ('Respond in the format {"name": function name, "parameters": dict}', 'llama3_json'),
    ('{% for m in messages %}{{ m.content }}{% endfor %}', 'hermes'),
    (None, 'hermes'),
])
def test_format_for_template(template, name):
    assert format_for_template(template) == name


# ------------------------------------------------------------------------------- streaming

def stream(fmt, pieces):
    """(content or None, calls) assembled from a ToolStream's deltas, checking their shape."""
    s, deltas = ToolStream(fmt), []
    for piece in pieces:
        deltas += s.feed(piece)
    deltas += s.finish()
    content, calls = '', {}
    for d in deltas:
        assert len(d) == 1 and (d.get('content') or d.get('tool_calls')), d
        content += d.get('content', '')
        for tc in d.get('tool_calls', []):
            if 'id' in tc:     # the opening delta: id, type, name, empty arguments
                assert tc['index'] == len(calls) and tc['type'] == 'function'
                assert re.fullmatch(r'call_[0-9a-f]{24}', tc['id'])
                assert tc['function']['arguments'] == ''
                calls[tc['index']] = [tc['function']['name'], '']
            else:
                calls[tc['index']][1] += tc['function']['arguments']
    assert s.called == bool(calls)
    return (content or None) if calls else content, [(n, json.loads(a)) for n, a in
                                                     calls.values()]


def splits(text, rng):
    """Every 2-way split, every 3-way split of short texts, char by char, random splits."""
    n = len(text)
    yield [text]
    yield list(text)
    for i in range(n + 1):
        yield [text[:i], text[i:]]
    if n <= 70:
        for i in range(n + 1):
            for j in range(i, n + 1):
                yield [text[:i], text[i:j], text[j:]]
    for _ in range(150):
        cuts = sorted(rng.sample(range(n + 1), min(n + 1, rng.randint(1, 12))))
        yield [text[a:b] for a, b in zip([0, *cuts], [*cuts, n])]


STREAM_TEXTS = {
    H: ['Hi <tool_call>{"name": "f", "arguments": {}}</tool_call>',
        '<tool_call>\n{"name": "f", "arguments": {"a": "}"}}\n</tool_call>\n<tool_call>'
        '{"name": "g"}\n</tool_call>',
        ' A < B and <tool_ca ll> <tool_call>{"name": "f", "arguments": "{}"}',
        'Use <tool_call> tags. ', '<tool_call>{"name": 1}</tool_call>',
        '<tool_call>{"name": "f", "arguments": {"x": 1}}</tool_call> bye <tool_call>',
        '  Hello  \n world \n', '<tool', 'text <tool_cal', '\n\n<tool_call>{bad'],
    M: ['Sure. [TOOL_CALLS] [{"name": "f", "arguments": {}}, {"name": "g", "arguments": {}}]',
        '[TOOL_CALLS][{"name": "f", "arguments": {"a": [1, {"b": "]"}]}}]',
        '[TOOL_CALLS][{"name": "f", "arguments": {]', 'a [TOOL] b', '[TOOL_CALLS'],
    L: ['{"name": "f", "parameters": {"q": "{"}}; {"name": "g", "parameters": {}}',
        ' <|python_tag|>{"name": "f", "parameters": {}}', '<|python_ta', '<|python',
        '{"name": "Bob", "age": 3}', 'The answer is {"name": "f", "parameters": {}}',
        '{"name": "f", "parameters": {}} and more', '   ', ''],
}


@pytest.mark.parametrize('fmt, text', [(f, t) for f, ts in STREAM_TEXTS.items() for t in ts],
                         ids=lambda v: v.name if isinstance(v, ToolFormat) else None)
def test_stream_equals_parse_for_any_split(fmt, text):
    content, calls = fmt.parse(text)
    want = (content, fn(calls))
    rng = random.Random(text)
    for pieces in splits(text, rng):
        assert stream(fmt, pieces) == want, pieces


def test_stream_sends_calls_as_soon_as_complete():
    s = ToolStream(H)
    assert s.feed('Checking. <tool_') == [{'content': 'Checking.'}]
    assert s.feed('call>\n{"name": "f", "arguments": {"a": 1}') == []
    first = s.feed('}')
    assert first[0]['tool_calls'][0]['function'] == {'name': 'f', 'arguments': ''}
    assert first[1] == {'tool_calls': [{'index': 0, 'function': {'arguments': '{"a":1}'}}]}
    assert s.called and s.feed('\n</tool_call>') == [] and s.finish() == []


def test_stream_holds_only_what_may_be_a_marker():
    s = ToolStream(H)
    assert s.feed('a <') == [{'content': 'a'}]           # ' <' may start <tool_call>
    assert s.feed('b ') == [{'content': ' <b'}]          # trailing space still held
    assert s.finish() == [] and not s.called
    s = ToolStream(L)
    assert s.feed('Paris ') == [{'content': 'Paris'}]    # not a call: streams at once
    s = ToolStream(L)
    assert s.feed(' {"name"') == [] and s.finish() == [{'content': '{"name"'}]


# ------------------------------------------------------------------------- agent messages

TOOLS = [{'type': 'function', 'function': {
    'name': 'get_weather', 'description': 'Weather of a city',
    'parameters': {'type': 'object', 'properties': {'city': {'type': 'string'}}}}}]
AGENT = [{'role': 'system', 'content': 'Be brief.'},
         {'role': 'user', 'content': 'Weather in Paris and Rome?'},
         {'role': 'assistant', 'content': None, 'tool_calls': [
             {'id': 'call_1', 'type': 'function',
              'function': {'name': 'get_weather', 'arguments': '{"city": "Paris"}'}},
             {'id': 'call_2', 'type': 'function',
              'function': {'name': 'get_weather', 'arguments': '{"city": "Rome"}'}}]},
         {'role': 'tool', 'tool_call_id': 'call_1', 'content': 'sunny, 21C'},
         {'role': 'tool', 'tool_call_id': 'call_2', 'content': 'rain, 14C'}]


def test_tool_system_prompt():
    text = tool_system_prompt(TOOLS, H)
    assert 'You may call one or more functions' in text and json.dumps(TOOLS[0]) in text
    assert 'within <tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, ' \
           '"arguments": <args-json-object>}\n</tool_call>' in text
    assert '[TOOL_CALLS][{"name": <function-name>' in tool_system_prompt(TOOLS, M)
    assert '"parameters": <args-json-object>}' in tool_system_prompt(TOOLS, L)


def test_messages_for_plain_template():
    out = messages_for_template(AGENT, H, renders_tools=False, tools=TOOLS)
    assert [m['role'] for m in out] == ['system', 'user', 'assistant', 'user']
    assert out[0]['content'].startswith('Be brief.\n\n# Tools')
    assert fn(H.parse(out[2]['content'])[1]) == [('get_weather', {'city': 'Paris'}),
                                                 ('get_weather', {'city': 'Rome'})]
    assert 'tool_calls' not in out[2]
    assert out[3]['content'] == ('<tool_response>\nsunny, 21C\n</tool_response>\n'
                                 '<tool_response>\nrain, 14C\n</tool_response>')
    assert AGENT[2]['content'] is None and AGENT[3]['role'] == 'tool'     # input unchanged
    alone = messages_for_template(AGENT[1:], M, renders_tools=False, tools=TOOLS)
    assert alone[0]['role'] == 'system' and '[TOOL_CALLS]' in alone[0]['content']
    assert alone[3]['content'].startswith('[TOOL_RESULTS]sunny')


def test_messages_for_tool_template():
    out = messages_for_template(AGENT, H, renders_tools=True, tools=TOOLS)
    assert out[0] == AGENT[0] and out[2]['content'] == ''
    assert out[2]['tool_calls'][1]['function']['arguments'] == {'city': 'Rome'}
    assert out[3] == AGENT[3] and AGENT[2]['tool_calls'][1]['function']['arguments'] == \
        '{"city": "Rome"}'


# A Qwen2.5-style template (written for this test: none is installed) that renders tools.
HERMES_TEMPLATE = (
    "{% if tools %}<|im_start|>system\n{% for t in tools %}{{ t | tojson }}\n{% endfor %}"
    "<|im_end|>\n{% endif %}{% for m in messages %}<|im_start|>"
    "{{ 'user' if m.role == 'tool' else m.role }}\n{% if m.role == 'tool' %}<tool_response>\n"
    "{{ m.content }}\n</tool_response>{% else %}{{ m.content }}{% endif %}"
    "{% for c in m.tool_calls or [] %}<tool_call>\n{\"name\": \"{{ c.function.name }}\", "
    "\"arguments\": {{ c.function.arguments | tojson }}}\n</tool_call>{% endfor %}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def test_template_renders_tools(smollm_path, tiny_llm_path):
    from transformers import AutoTokenizer
    assert template_renders_tools(HERMES_TEMPLATE)
    assert not template_renders_tools(None)
    assert template_renders_tools('{% generation %}{{ tools }}{% endgeneration %}')  # by text
    for path in (smollm_path, tiny_llm_path):
        assert not template_renders_tools(AutoTokenizer.from_pretrained(path).chat_template)


@pytest.mark.parametrize('model', ['smollm_path', 'tiny_llm_path', 'hermes_template'])
def test_agent_round_trip_renders(model, request, tiny_llm_path):
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(tiny_llm_path if model == 'hermes_template'
                                        else request.getfixturevalue(model))
    template = HERMES_TEMPLATE if model == 'hermes_template' else tok.chat_template
    if model == 'smollm_path':      # the raw turns crash SmolLM2's template: content None
        with pytest.raises(TypeError):
            tok.apply_chat_template(AGENT, tokenize=False, tools=TOOLS)
    fmt = tool_format(format_for_template(template))
    messages = messages_for_template(AGENT, fmt, template_renders_tools(template), TOOLS)
    text = tok.apply_chat_template(messages, tokenize=False, tools=TOOLS, chat_template=template,
                                   add_generation_prompt=True)
    assert '"name": "get_weather", "arguments": {"city": "Rome"}' in text   # dict, not string
    assert '<tool_response>\nrain, 14C\n</tool_response>' in text
    assert '"description": "Weather of a city"' in text and 'Be brief.' in text
    assert '<|im_start|>tool' not in text and 'None' not in text
