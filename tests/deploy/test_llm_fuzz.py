"""Fuzzing the engines' request handling with hypothesis: no body, however odd, gets a 5xx.

Random JSON values, malformed bytes, and bodies built from the real field names (the
installed ``openai`` package's) with random values of random types (nested objects, huge
numbers, NaN and Infinity, NaN-ish strings, lone surrogates, unicode digits, random JSON
schemas and tools) are POSTed raw to ``/v1/chat/completions`` and ``/v1/completions`` of the
tiny LLM engine and to ``/v1/embeddings`` of the MiniLM engine. Every answer is a 2xx or a
4xx in OpenAI's error shape; a stream never carries an error frame. Meanwhile a background
thread sends well-formed requests, which must all succeed; afterwards ``/health`` answers
and a well-formed request succeeds.

Bounded and reproducible: ``derandomize=True``, no example database, a few hundred examples
per test (about two thousand requests in all), answers of at most 4 tokens.
"""
import collections
import contextlib
import json
import math
import threading

import httpx
import openai.types.chat.completion_create_params as chat_params
import openai.types.completion_create_params as completion_params
import openai.types.embedding_create_params as embedding_params
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lazyllm.deploy.servers._fields import (
    CHAT_HONOURED,
    COMPLETION_HONOURED,
    INFORMATIONAL,
    REFUSED,
)

CHAT_FIELDS = sorted(set(chat_params.CompletionCreateParamsBase.__annotations__) |
                     CHAT_HONOURED | set(INFORMATIONAL) | {'stream'})
COMPLETION_FIELDS = sorted(set(completion_params.CompletionCreateParamsBase.__annotations__) |
                           COMPLETION_HONOURED | {'stream'})
EMBEDDING_FIELDS = sorted(embedding_params.EmbeddingCreateParams.__annotations__)
MAX_TOKENS = 4


def fuzz(examples):
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck), print_blob=True)


# -- values ---------------------------------------------------------------------------------
WEIRD_STRINGS = [
    'NaN', 'nan', 'Infinity', '-Infinity', 'inf', '1e999', '-0', '0x10', '1_000', '', ' ',
    '\x00', 'null', 'true', '{}', '[]', '\u00b2', '\u0663', '\uff11',
    '\U0001d7d8', '\ufb01', '\u202e', '\ufeff', '<|im_start|>', '<|im_end|>',
    '<|endoftext|>', '<tool_call>', '<tool_call>\n{"name": "f", "arguments": {}}\n</tool_call>',
    '\n' * 5, '\U0001f600' * 3, 'e\u0301', '\u4f60\u597d']
HUGE = [2**31, 2**53 + 1, 2**63, 2**64, 2**64 - 1, -2**63 - 1, 10**30, 10**400, -10**400,
        1e308, -1e308, 5e-324, 1e-300, -0.0, math.nan, math.inf, -math.inf]
MODEL = '$MODEL'        # replaced by the engine's served model id before sending
VOCAB = 538             # the tiny model's
text = st.one_of(st.text(max_size=24), st.sampled_from(WEIRD_STRINGS))   # surrogates too
words = st.text(st.characters(codec='utf-8'), min_size=1, max_size=24)
number = st.one_of(st.integers(-1000, 1000), st.floats(), st.sampled_from(HUGE))
scalar = st.one_of(st.none(), st.booleans(), number, text)
json_value = st.recursive(
    scalar, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                    st.dictionaries(text, inner, max_size=4)), max_leaves=12)


def often(common, rare, tenths=8):
    """``common`` ``tenths`` times in ten, else ``rare``."""
    return st.integers(0, 9).flatmap(lambda i: common if i < tenths else rare)


def mostly(valid, *odd):
    """Usually (4 in 5) a valid value, so that requests get past validation and generate;
    else an odd value of the field's own kind, or any JSON value at all."""
    return often(valid, st.one_of(*odd, json_value))


def floats(lo, hi, *edges):
    return st.one_of(st.floats(lo, hi), st.sampled_from([lo, hi, *edges]))


# JSON schemas: valid ones (xgrammar compiles them) and odd ones (refused keywords, bad
# regexes, min > max, huge bounds, dangling refs…)
good_schema = st.recursive(
    st.one_of(
        st.fixed_dictionaries({'type': st.sampled_from(['string', 'integer', 'number',
                                                        'boolean', 'null'])}),
        st.fixed_dictionaries({'type': st.just('integer'), 'minimum': st.integers(-9, 0),
                               'maximum': st.integers(0, 9)}),
        st.fixed_dictionaries({'type': st.just('string'), 'pattern': st.sampled_from(
            ['^[a-z]{1,3}$', '^[0-9]+$', '^(yes|no)$'])}),
        st.fixed_dictionaries({'enum': st.lists(st.one_of(st.integers(), words), min_size=1,
                                                max_size=3, unique=True)}),
        st.fixed_dictionaries({'type': st.just('string'), 'format': st.sampled_from(
            ['date', 'email', 'uuid'])})),
    lambda inner: st.one_of(
        st.dictionaries(st.sampled_from(['a', 'b', 'city', 'n']), inner, min_size=1,
                        max_size=3).flatmap(lambda props: st.fixed_dictionaries({
                            'type': st.just('object'), 'properties': st.just(props),
                            'required': st.lists(st.sampled_from(sorted(props)), unique=True)})),
        st.fixed_dictionaries({'type': st.just('array'), 'items': inner,
                               'maxItems': st.integers(0, 3)}),
        st.fixed_dictionaries({'anyOf': st.lists(inner, min_size=1, max_size=3)})),
    max_leaves=5)
odd_schema = st.recursive(
    st.fixed_dictionaries({'type': st.sampled_from(
        ['string', 'integer', 'number', 'boolean', 'null', 'object', 'array', 'bogus'])},
        optional={'enum': st.lists(scalar, max_size=3), 'const': scalar,
                  'pattern': st.one_of(text, st.sampled_from(
                      ['(a)\\1', '\\p{L}', '(?=x)', '(?i)a', '[', 'a{2,1}', '\\b', '.*'])),
                  'minLength': number, 'maxLength': number, 'minimum': number,
                  'maximum': number, 'format': st.sampled_from(['email', 'date', 'bogus']),
                  'minItems': number, 'maxItems': number, 'multipleOf': number,
                  '$ref': st.sampled_from(['#', '#/$defs/a', 'http://x/y', '#/nope'])}),
    lambda inner: st.one_of(
        st.fixed_dictionaries({'type': st.just('object'),
                               'properties': st.dictionaries(text, inner, max_size=3)},
                              optional={'required': st.lists(text, max_size=3),
                                        'additionalProperties': st.one_of(st.booleans(), inner),
                                        '$defs': st.fixed_dictionaries({'a': inner})}),
        st.fixed_dictionaries({'type': st.just('array'), 'items': inner},
                              optional={'prefixItems': st.lists(inner, max_size=2),
                                        'uniqueItems': st.booleans()}),
        st.fixed_dictionaries({'anyOf': st.lists(inner, max_size=3)}),
        st.fixed_dictionaries({'oneOf': st.lists(inner, max_size=3)}),
        st.fixed_dictionaries({'allOf': st.lists(inner, max_size=2)}),
        st.fixed_dictionaries({'not': inner})),
    max_leaves=6)
schema = mostly(good_schema, odd_schema)
tool_name = mostly(st.sampled_from(['get_weather', 'f', 'a.b-c_d', 'x' * 64]),
                   st.sampled_from(['x' * 65, '', 'has space', 'd\u00e9j\u00e0']))
tool = mostly(st.fixed_dictionaries(
    {'type': st.just('function'), 'function': st.fixed_dictionaries(
        {'name': tool_name}, optional={'parameters': schema, 'description': mostly(words),
                                       'strict': mostly(st.booleans())})}))
tools = mostly(st.lists(tool, min_size=1, max_size=3), st.lists(tool, max_size=130))
call = mostly(st.fixed_dictionaries({
    'id': mostly(st.just('call_1')), 'type': st.just('function'),
    'function': st.fixed_dictionaries({'name': tool_name, 'arguments': mostly(st.sampled_from(
        ['{}', '{"city": "Paris"}', '{"a": [1, {"b": null}]}']), st.sampled_from(
        ['{', 'null', '[1]', '']))})}))
part = st.fixed_dictionaries({'type': st.just('text'), 'text': words})
odd_part = st.fixed_dictionaries({'type': st.sampled_from(['image_url', 'refusal', 'x']),
                                  'refusal': text, 'text': json_value})
content = often(words, st.lists(part, min_size=1, max_size=3), 7)
odd_content = st.one_of(text, st.lists(st.one_of(part, odd_part), max_size=3), st.none())
turn = st.one_of(
    st.fixed_dictionaries({'role': st.sampled_from(['system', 'developer', 'user']),
                           'content': content}),
    st.fixed_dictionaries({'role': st.just('assistant'), 'content': content}))
agent = st.fixed_dictionaries({   # an assistant's calls and the tool's answer
    'role': st.just('assistant'), 'content': st.none(),
    'tool_calls': st.lists(call, min_size=1, max_size=2)}).map(
        lambda m: [m, {'role': 'tool', 'tool_call_id': 'call_1', 'content': 'sunny'}])
odd_message = st.fixed_dictionaries(
    {'role': st.sampled_from(['system', 'user', 'assistant', 'tool', 'function', 'bogus', 'USER']),
     'content': odd_content},
    optional={'tool_calls': mostly(st.lists(call, min_size=1, max_size=2)),
              'tool_call_id': mostly(st.just('call_1')), 'name': json_value})
valid_messages = st.builds(
    lambda head, agent_turns, last: [*head, *(agent_turns or []), last],
    st.lists(turn, max_size=2), st.one_of(st.none(), agent),
    st.fixed_dictionaries({'role': st.just('user'), 'content': content}))
messages = mostly(valid_messages,
                  st.lists(st.one_of(turn, odd_message, json_value), max_size=4))
ids = st.lists(st.integers(0, VOCAB - 1), min_size=1, max_size=6)
prompt = mostly(st.one_of(words, st.lists(words, min_size=1, max_size=3), ids,
                          st.lists(ids, min_size=1, max_size=3)),
                text, st.lists(st.integers(-5, 10**6), max_size=4), st.just([]))
tokens = mostly(st.integers(1, MAX_TOKENS), st.integers(max_value=0), st.sampled_from(HUGE))
schema_format = st.fixed_dictionaries(
    {'type': st.just('json_schema'), 'json_schema': mostly(st.fixed_dictionaries(
        {'name': mostly(st.just('answer'), text), 'schema': schema},
        optional={'strict': mostly(st.booleans())}))})
response_format = mostly(
    st.one_of(st.fixed_dictionaries({'type': st.sampled_from(['text', 'json_object'])}),
              schema_format),
    st.fixed_dictionaries({'type': st.sampled_from(['json', 'JSON_OBJECT', 'bogus'])}))
tool_choice = mostly(st.one_of(st.sampled_from(['none', 'auto', 'required']),
                               st.fixed_dictionaries({'type': st.just('function'),
                                                      'function': st.fixed_dictionaries(
                                                          {'name': tool_name})})))
logit_bias = mostly(
    st.dictionaries(st.integers(0, VOCAB - 1).map(str), floats(-100, 100), max_size=5),
    st.dictionaries(st.one_of(st.integers(-3, 10**6).map(str), text), number, max_size=4))
stop = mostly(st.one_of(words, st.lists(words, min_size=1, max_size=4)),
              st.lists(text, max_size=17))
VALUES = {
    'messages': messages, 'prompt': prompt, 'model': mostly(st.sampled_from([MODEL, None]), text),
    'max_tokens': tokens, 'max_completion_tokens': tokens,
    'temperature': mostly(floats(0, 2, 1e-300, 1e-5, 2e-5)),
    'top_p': mostly(floats(0, 1, 1e-300, 1e-9)), 'min_p': mostly(floats(0, 1, 1e-300)),
    'top_k': mostly(st.integers(-1, VOCAB + 10), st.sampled_from(HUGE)),
    'repetition_penalty': mostly(floats(1e-3, 10, 1e-300, 5e-324, 1e-30)),
    'presence_penalty': mostly(floats(-2, 2)), 'frequency_penalty': mostly(floats(-2, 2)),
    'seed': mostly(st.integers(-2**63, 2**64 - 1), st.sampled_from(HUGE)), 'stop': stop,
    'logit_bias': logit_bias, 'stream': mostly(st.booleans()),
    'stream_options': mostly(st.fixed_dictionaries(
        {}, optional={'include_usage': mostly(st.booleans()),
                      'include_obfuscation': st.booleans()})),
    'tools': tools, 'tool_choice': tool_choice, 'parallel_tool_calls': mostly(st.booleans()),
    'response_format': response_format,
    'user': mostly(words), 'safety_identifier': mostly(words),
    'prompt_cache_key': mostly(words), 'metadata': mostly(st.dictionaries(words, words)),
    # refused fields: mostly their "not used" values
    'n': mostly(st.just(1), st.integers(0, 3)), 'best_of': mostly(st.just(1)),
    'logprobs': mostly(st.just(False), st.integers(0, 3)), 'top_logprobs': mostly(st.just(0)),
    'echo': mostly(st.just(False)), 'suffix': mostly(st.just('')), 'store': mostly(st.just(False)),
    'service_tier': mostly(st.sampled_from(['auto', 'default'])),
    'modalities': mostly(st.just(['text'])),
    # embeddings
    'input': mostly(st.one_of(words, st.lists(words, min_size=1, max_size=4)), text,
                    st.lists(st.integers(-5, 30000), max_size=4)),
    'dimensions': mostly(st.integers(1, 384), st.integers(-2, 500)),
    'encoding_format': mostly(st.sampled_from(['float', 'base64']), text),
}
for _field in REFUSED:       # the other refused fields: mostly null ("not used")
    VALUES.setdefault(_field, mostly(st.none()))
UNKNOWN_NAMES = st.sampled_from(['frobnicate', '', 'Model', 'messages ', 'MESSAGES'])


def body_of(fields, required):
    """A body with the ``required`` fields (mostly valid) and a few others of ``fields``,
    sometimes with an unknown field too."""
    def build(chosen):
        return st.fixed_dictionaries({f: VALUES.get(f, json_value) for f in chosen})
    others = st.lists(st.sampled_from(fields), max_size=5, unique=True)
    body = st.builds(lambda a, b: {**a, **b}, build(required), others.flatmap(build))
    extra = st.dictionaries(st.one_of(UNKNOWN_NAMES, text), json_value, min_size=1, max_size=2)
    return often(body, st.builds(lambda a, b: {**b, **a}, body, extra), 9)


def prepared(body, model_id):
    """``body`` with the model id put in, and, for an LLM, no budget over MAX_TOKENS (one
    is set when none is given) so that every answer stays short."""
    if not isinstance(body, dict):
        return body
    if body.get('model') == MODEL:
        body['model'] = model_id
    for key in ('max_tokens', 'max_completion_tokens'):
        value = body.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and \
                MAX_TOKENS < value < 10**5:
            body[key] = MAX_TOKENS
    if body.get('max_tokens') is None and body.get('max_completion_tokens') is None:
        body['max_tokens'] = MAX_TOKENS
    return body


def raw_of(value):
    """JSON text as a client might send it: NaN/Infinity literals, lone surrogates escaped."""
    return json.dumps(value, allow_nan=True).encode()


malformed = st.one_of(
    st.binary(max_size=64),
    st.sampled_from([b'', b'{', b'{"messages": [', b'{"a": 1,}', b"{'a': 1}", b'\xff\xfe{}',
                     b'{"a": 1}{"b": 2}', b'[' * 100 + b']' * 100, b'{"a": NaN}',
                     b'{"max_tokens": 1' + b'0' * 5000 + b'}', b'\x00', b'  {}  ', b'null']),
    st.builds(lambda t, i: t[:i], st.sampled_from(
        [b'{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}',
         b'{"prompt": "hi", "max_tokens": 2}', b'{"input": ["hi"]}']), st.integers(0, 60)))


# -- checks ---------------------------------------------------------------------------------
def check(response, body=None):
    """Not a 5xx; an error is OpenAI's shape; a stream is well-formed and carries no error."""
    status = response.status_code
    assert status < 500, (body, status, response.text[:2000])
    if status >= 400:
        error = response.json().get('error')
        assert isinstance(error, dict), response.text
        assert set(error) == {'message', 'type', 'param', 'code'}, error
        assert isinstance(error['message'], str) and error['message']
        assert error['code'] is None or isinstance(error['code'], str), error
        assert error['param'] is None or isinstance(error['param'], str), error
        return
    if response.headers.get('content-type', '').startswith('text/event-stream'):
        frames = [ln[6:] for ln in response.text.splitlines() if ln.startswith('data: ')]
        assert frames and frames[-1] == '[DONE]', (body, response.text[:2000])
        for frame in frames[:-1]:
            assert 'error' not in json.loads(frame), (body, frame)
    elif status == 200:
        out = response.json()
        assert out.get('choices') or out.get('data'), (body, out)


class Canary:
    """Well-formed requests sent in a loop from a thread while the fuzzing runs."""

    def __init__(self, url, path, body):
        self.url, self.path, self.body = url, path, body
        self.results, self.stop = [], threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        with httpx.Client(base_url=self.url, timeout=120) as c:
            while not self.stop.is_set():
                r = c.post(self.path, json=self.body)
                self.results.append((r.status_code, r.text[:300]))
                self.stop.wait(0.05)


@contextlib.contextmanager
def canary(url, path, body):
    """Run the canary around the block; then check it, ``/health`` and one more request."""
    bird = Canary(url, path, body)
    bird.thread.start()
    try:
        yield
    finally:
        bird.stop.set()
        bird.thread.join(120)
    failed = [r for r in bird.results if r[0] != 200]
    print('\n' + '\n'.join(f'{n:5d} {k}' for k, n in SEEN.most_common()))
    SEEN.clear()
    print(f'\n{path}: {len(bird.results)} well-formed requests during the fuzzing, '
          f'{len(failed)} failed')
    assert bird.results and not failed, failed[:5]
    base = url.rsplit('/v1/', 1)[0]
    assert httpx.get(base + '/health', timeout=30).json()['status'] == 'ok'
    assert httpx.post(url + path, json=body, timeout=120).status_code == 200


CHAT_OK = {'messages': [{'role': 'user', 'content': 'the quick brown fox'}], 'max_tokens': 2,
           'temperature': 0}
COMPLETION_OK = {'prompt': 'the quick brown fox', 'max_tokens': 2}
EMBEDDING_OK = {'input': ['the quick brown fox']}


def served(url):
    return httpx.get(url + 'models', timeout=30).json()['data'][0]['id']


@pytest.fixture(scope='module')
def llm(tiny_llm):
    with httpx.Client(base_url=tiny_llm.url, timeout=120) as c:
        yield tiny_llm.url, served(tiny_llm.url), c


@pytest.fixture(scope='module')
def embed(emb):
    with httpx.Client(base_url=emb.url, timeout=120) as c:
        yield emb.url, served(emb.url), c


SEEN = collections.Counter()


def post(client, path, raw, body=None):
    r = client.post(path, content=raw, headers={'content-type': 'application/json'})
    check(r, body if body is not None else raw[:500])
    error = r.json()['error'] if r.status_code >= 400 else {}
    SEEN[(r.status_code, error.get('param'))] += 1
    return r


# -- the fuzzing ----------------------------------------------------------------------------
@pytest.mark.parametrize('path, fields, required, examples, ok', [
    ('chat/completions', CHAT_FIELDS, ['messages'], 600, CHAT_OK),
    ('completions', COMPLETION_FIELDS, ['prompt'], 300, COMPLETION_OK)])
def test_bodies_from_real_fields(llm, path, fields, required, examples, ok):
    url, model_id, client = llm

    @fuzz(examples)
    @given(body_of(fields, required))
    def run(body):
        body = prepared(body, model_id)
        post(client, path, raw_of(body), body)
    with canary(url, path, ok):
        run()


@pytest.mark.parametrize('path', ['chat/completions', 'completions'])
def test_llm_arbitrary_json_and_bytes(llm, path):
    url, model_id, client = llm

    @fuzz(150)
    @given(st.one_of(json_value.map(lambda v: raw_of(prepared(v, model_id))), malformed))
    def run(raw):
        post(client, path, raw)
    with canary(url, 'chat/completions', CHAT_OK):
        run()


def test_embedding_bodies(embed):
    url, model_id, client = embed

    @fuzz(300)
    @given(st.one_of(body_of(EMBEDDING_FIELDS, ['input']), json_value))
    def run(body):
        if isinstance(body, dict) and body.get('model') == MODEL:
            body['model'] = model_id
        post(client, 'embeddings', raw_of(body), body)

    @fuzz(100)
    @given(malformed)
    def run_malformed(raw):
        post(client, 'embeddings', raw)
    with canary(url, 'embeddings', EMBEDDING_OK):
        run()
        run_malformed()


# values the fuzzing (or probing around it) found to fail once, kept as fixed examples
EDGES = [
    ({'top_k': 10**400}, 400), ({'top_k': -10**400}, 400), ({'top_k': 1e400}, 400),
    ({'logit_bias': {'\u00b2': 1}}, 400), ({'logit_bias': {'\u0663': 1}}, 400),
    ({'logit_bias': {'1': math.nan}}, 400), ({'temperature': math.nan}, 400),
    ({'temperature': math.inf}, 400), ({'seed': 2**64}, 400), ({'max_tokens': 10**400}, 400),
    ({'top_p': 0, 'temperature': 1.0}, 200), ({'top_p': 1e-300, 'temperature': 1.0}, 200),
    ({'top_p': 0, 'temperature': 1.0, 'stream': True}, 200),
    ({'temperature': 1e-300}, 200), ({'temperature': 5e-324, 'top_k': 1}, 200),
    ({'min_p': 1.0, 'temperature': 2.0}, 200),
    ({'repetition_penalty': 1e-300, 'temperature': 1.0}, 400),
    ({'frobnicate': None}, 400),                   # an unknown field, even null, is named
]


@pytest.mark.parametrize('path', ['chat/completions', 'completions'])
@pytest.mark.parametrize('extra, status', EDGES, ids=[repr(e)[:40] for e, _ in EDGES])
def test_edge_values(llm, path, extra, status):
    url, _, client = llm
    base = CHAT_OK if path == 'chat/completions' else COMPLETION_OK
    body = {**base, **extra}
    r = post(client, path, raw_of(body), body)
    assert r.status_code == status, r.text


# -- valid JSON that is not text: a lone surrogate escape (once a 500 from the tokenizer) ---
SURROGATES = [
    ('chat/completions', b'{"messages": [{"role": "user", "content": "a\\ud800b"}], '
                         b'"max_tokens": 2}'),
    ('chat/completions', b'{"messages": [{"role": "user", "content": "hi"}], "\\ud800": 1}'),
    ('completions', b'{"prompt": "\\udfff", "max_tokens": 2}'),
    ('embeddings', b'{"input": ["\\ud800"]}'),
]


@pytest.mark.parametrize('path, raw', SURROGATES)
def test_lone_surrogates_are_a_400(request, path, raw):
    url = request.getfixturevalue('embed' if path == 'embeddings' else 'llm')[0]
    r = httpx.post(url + path, content=raw, headers={'content-type': 'application/json'},
                   timeout=120)     # its own connection: a 500 closes the one it came on
    check(r, raw)
    assert r.status_code == 400 and 'lone UTF-16 surrogate' in r.json()['error']['message']


def test_an_integer_over_pythons_digit_limit_is_named(llm):
    raw = b'{"messages": [{"role": "user", "content": "hi"}], "seed": ' + b'9' * 5000 + b'}'
    r = httpx.post(llm[0] + 'chat/completions', content=raw,
                   headers={'content-type': 'application/json'}, timeout=60)
    assert r.status_code == 400 and 'not valid JSON' in r.json()['error']['message']
