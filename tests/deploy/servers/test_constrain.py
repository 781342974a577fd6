"""Constrained decoding (_constrain): real tokenizers, real greedy decoding with a KV cache.

SmolLM2-135M-Instruct shows that masked decoding yields valid JSON, schema-valid objects and
well-formed tool calls; the tiny random Qwen2 (it would never write JSON by itself) shows that
the mask alone produces each tool-call format's skeleton. Each decode is at most 60 tokens.
"""
import json
import subprocess
import sys

import pytest

torch = pytest.importorskip('torch')
pytest.importorskip('xgrammar')
pytest.importorskip('transformers')

from lazyllm.deploy.servers import _constrain  # noqa: E402
from lazyllm.deploy.servers._constrain import (  # noqa: E402
    ConstraintError,
    Grammars,
    RowConstraint,
)
from lazyllm.deploy.servers._tool_parsers import HERMES, LLAMA3_JSON, MISTRAL  # noqa: E402

WEATHER = {'type': 'object', 'properties': {
    'city': {'type': 'string', 'maxLength': 20},
    'unit': {'type': 'string', 'enum': ['celsius', 'fahrenheit']}},
    'required': ['city', 'unit']}
TOOLS = [
    {'type': 'function', 'function': {'name': 'get_weather', 'description': 'Weather now',
                                      'parameters': WEATHER}},
    {'type': 'function', 'function': {'name': 'get_time', 'parameters': {
        'type': 'object', 'properties': {'tz': {'type': 'string'}}, 'required': ['tz']}}},
]
# a finite language: a random model cannot wander inside a string forever
FLAGS = {'type': 'object', 'properties': {'on': {'type': 'boolean'},
                                          'mode': {'enum': ['a', 'b']}},
         'required': ['on', 'mode']}
FLAG_TOOLS = [{'type': 'function', 'function': {'name': 'toggle', 'parameters': FLAGS}},
              {'type': 'function', 'function': {'name': 'reset'}}]


def _load(path):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path).eval()
    return tok, model, Grammars(tok, model.config.vocab_size, [tok.eos_token_id])


@pytest.fixture(scope='module', autouse=True)
def one_thread():
    """Decoding one row step by step: a second torch thread only waits on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def smol(smollm_path):
    return _load(smollm_path)


@pytest.fixture(scope='module')
def tiny(tiny_llm_path):
    return _load(tiny_llm_path)


def generate(lm, compiled, prompt: str, max_tokens: int = 60) -> tuple[str, bool]:
    """Greedy decoding under ``compiled``: (text, whether the grammar finished)."""
    tok, model, _ = lm
    ids = tok.apply_chat_template([{'role': 'user', 'content': prompt}], return_dict=True,
                                  add_generation_prompt=True, return_tensors='pt')['input_ids']
    row, out, cache = RowConstraint(compiled), [], None
    with torch.inference_mode():
        for _ in range(max_tokens):
            step = model(input_ids=ids, past_key_values=cache, use_cache=True)
            cache, logits = step.past_key_values, step.logits[0, -1].float()
            row.mask(logits)
            token = int(logits.argmax())
            assert row.accept(token), (tok.decode(out), token)     # the mask let it through
            if token == tok.eos_token_id or row.finished:
                out += [] if token == tok.eos_token_id else [token]
                break
            out.append(token)
            ids = torch.tensor([[token]])
    return tok.decode(out), row.finished


def feed(grammars, compiled, text: str) -> RowConstraint:
    """A row that has accepted ``text`` (tokenized as the model would) token by token."""
    row = RowConstraint(compiled)
    for token in grammars.tokenizer.encode(text):
        assert row.accept(token), text
    return row


def validate(obj, schema):
    jsonschema = pytest.importorskip('jsonschema')
    jsonschema.validate(obj, schema)


# -- structured output ------------------------------------------------------------------------
def test_json_object_is_a_json_object(smol):
    text, finished = generate(smol, smol[2].response_format({'type': 'json_object'}),
                              'Describe Paris in JSON with a name and a country.')
    assert finished, text
    assert isinstance(json.loads(text), dict)


def test_json_schema_output_validates(smol):
    schema = {'type': 'object', 'properties': {
        'city': {'type': 'string', 'maxLength': 16},
        'size': {'type': 'string', 'enum': ['small', 'big']},
        'founded': {'type': 'integer', 'minimum': 0, 'maximum': 3000},
        'sights': {'type': 'array', 'items': {'type': 'string', 'maxLength': 12},
                   'minItems': 1, 'maxItems': 2},
        'mayor': {'type': 'object', 'properties': {'name': {'type': 'string', 'maxLength': 16}},
                  'required': ['name']}},
        'required': ['city', 'size', 'founded', 'sights', 'mayor']}
    rf = {'type': 'json_schema', 'json_schema': {'name': 'city', 'schema': schema}}
    text, finished = generate(smol, smol[2].response_format(rf), 'Describe Paris as JSON.')
    assert finished, text
    validate(json.loads(text), schema)
    assert smol[2].response_format({'type': 'text'}) is None


def test_the_mask_allows_only_what_the_grammar_allows(smol):
    tok, _, grammars = smol
    row = RowConstraint(grammars.response_format({'type': 'json_object'}))
    logits = torch.zeros(grammars.vocab_size)
    row.mask(logits)
    allowed = torch.nonzero(logits == 0).flatten().tolist()
    assert allowed and all(tok.decode([t]).startswith('{') for t in allowed)
    assert torch.isinf(logits).sum() == grammars.vocab_size - len(allowed)
    assert not row.finished and not row.accept(tok.encode('[')[0])


# -- tool calls -------------------------------------------------------------------------------
def test_hermes_named_tool_call(smol):
    compiled = smol[2].tool_calls(TOOLS, HERMES, only='get_weather', parallel=False)
    text, finished = generate(smol, compiled, 'What is the weather in Paris?')
    assert finished, text
    assert text.startswith('<tool_call>\n{"name": "get_weather", "arguments": {')
    assert text.endswith('}}\n</tool_call>')
    call = json.loads(text[len('<tool_call>\n'):-len('\n</tool_call>')])
    validate(call['arguments'], WEATHER)
    _, calls = HERMES.parse(text)
    assert [c['function']['name'] for c in calls] == ['get_weather']


def test_parallel_false_allows_exactly_one_call(tiny):
    grammars = tiny[2]
    one = '<tool_call>\n{"name": "reset", "arguments": {}}\n</tool_call>'
    single = feed(grammars, grammars.tool_calls(FLAG_TOOLS, HERMES, None, False), one)
    assert single.finished                        # only a stop token may follow
    many = feed(grammars, grammars.tool_calls(FLAG_TOOLS, HERMES, None, True), one)
    assert not many.finished and many.accept(grammars.tokenizer.encode('\n')[0])
    text, finished = generate(tiny, grammars.tool_calls(FLAG_TOOLS, HERMES, None, False), 'go', 150)
    assert finished, text
    assert len(HERMES.parse(text)[1]) == 1


@pytest.mark.parametrize('fmt', [MISTRAL, LLAMA3_JSON, HERMES], ids=lambda f: f.name)
def test_a_random_model_writes_the_format_skeleton(tiny, fmt):
    text, finished = generate(tiny, tiny[2].tool_calls(FLAG_TOOLS, fmt, None, False), 'go', 150)
    assert finished, text
    assert text.startswith(fmt.prefix) and text.endswith(fmt.suffix)
    content, calls = fmt.parse(text)
    assert content is None and len(calls) == 1, text
    name, args = calls[0]['function']['name'], json.loads(calls[0]['function']['arguments'])
    if name == 'toggle':
        validate(args, FLAGS)
    else:
        assert (name, args) == ('reset', {})      # no parameters: an empty object


@pytest.mark.parametrize('fmt', [MISTRAL, LLAMA3_JSON], ids=lambda f: f.name)
def test_parallel_calls_parse_back(tiny, fmt):
    grammars = tiny[2]
    call = '{"name": "toggle", "%s": {"on": true, "mode": "b"}}' % fmt.args_key
    text = fmt.prefix + call + fmt.separator + call + fmt.suffix
    row = feed(grammars, grammars.tool_calls(FLAG_TOOLS, fmt, None, True), text)
    assert row.accept(grammars.tokenizer.eos_token_id)        # complete: it may stop here
    assert len(fmt.parse(text)[1]) == 2


def test_tool_arguments_may_use_local_refs(tiny):
    grammars = tiny[2]
    params = {'type': 'object', 'properties': {'at': {'$ref': '#/$defs/Place'}},
              'required': ['at'], '$defs': {'Place': {
                  'type': 'object', 'properties': {'city': {'type': 'string'}},
                  'required': ['city']}}}
    tools = [{'type': 'function', 'function': {'name': 'go', 'parameters': params}}]
    compiled = grammars.tool_calls(tools, LLAMA3_JSON, 'go', False)
    assert feed(grammars, compiled, '{"name": "go", "parameters": {"at": {"city": "Rome"}}}'
                ).finished
    with pytest.raises(AssertionError):
        feed(grammars, compiled, '{"name": "go", "parameters": {"at": {"town": "Rome"}}}')
    with pytest.raises(ConstraintError) as e:
        grammars.tool_calls(tools, HERMES, 'stop', False)
    assert e.value.param == 'tool_choice' and "'stop'" in str(e.value)


# -- refusals and the cache -------------------------------------------------------------------
@pytest.mark.parametrize('schema, named', [
    ({'not': {'type': 'string'}}, "'not'"),
    ({'type': 'object', 'if': {'required': ['a']}, 'then': {'required': ['b']}}, "'if'"),
    ({'type': 'array', 'items': {'type': 'integer'}, 'uniqueItems': True}, "'uniqueItems'"),
    ({'type': 'array', 'contains': {'const': 1}}, "'contains'"),
    ({'$ref': 'https://example.com/schema.json'}, 'https://example.com/schema.json'),
    ({'type': 'string', 'pattern': '^(?!admin).*$'}, "'pattern'"),
    ({'type': 'string', 'pattern': '(?i)^yes$'}, "'pattern'"),
    ({'type': 'string', 'format': 'iri'}, "'format' 'iri'"),
    ({'type': 'string', 'format': 'email', 'maxLength': 30}, "'maxLength'"),
    ({'allOf': [{'type': 'object'}, {'required': ['a']}]}, "'allOf'"),
    ({'oneOf': [{'type': 'integer'}, {'type': 'number'}]}, "'oneOf'"),
    ({'type': 'number', 'multipleOf': 0.5}, "'multipleOf'"),
    ({'type': 'object', 'properties': {'a': {}}, 'required': ['b']}, "'required' ['b']"),
    ({'minimum': 5, 'anyOf': [{'type': 'integer'}]}, "'anyOf' beside ['minimum']"),
    ({'type': 'string', 'enum': ['a', 1]}, "'enum' beside ['type']"),
    ({'type': 'object', 'properties': {'deep': {'type': 'array', 'items': {
        'type': 'object', 'dependentRequired': {'a': ['b']}}}}}, '#/properties/deep/items'),
    ({'type': 'string', 'pattern': '(a)\\1'}, 'Backreference'),        # xgrammar's own refusal
    ({'type': 'integer', 'minimum': 5, 'maximum': 1}, 'minimum greater than maximum'),
    ({'type': 'object', 'properties': {'a': {}}, 'required': 7}, 'malformed JSON schema'),
])
def test_unenforceable_schemas_are_refused_by_name(tiny, schema, named):
    rf = {'type': 'json_schema', 'json_schema': {'name': 'x', 'schema': schema}}
    with pytest.raises(ConstraintError) as e:
        tiny[2].response_format(rf)
    assert e.value.param == 'response_format' and named in str(e.value)
    tools = [{'type': 'function', 'function': {'name': 'f', 'parameters': schema}}]
    with pytest.raises(ConstraintError) as e:
        tiny[2].tool_calls(tools, HERMES, None, True)
    assert e.value.param == 'tools' and named in str(e.value)


@pytest.mark.parametrize('schema', [
    {'oneOf': [{'type': 'integer'}, {'type': 'string'}]},
    {'$defs': {'A': {'type': 'object', 'properties': {'k': {'const': 'a'}}, 'required': ['k']},
               'B': {'type': 'object', 'properties': {'k': {'const': 'b'}}, 'required': ['k']}},
     'oneOf': [{'$ref': '#/$defs/A'}, {'$ref': '#/$defs/B'}]},
    {'type': 'string', 'enum': ['a', 'b'], 'title': 'Letter', 'description': 'd'},
    {'type': ['string', 'null'], 'anyOf': [{'type': 'string'}, {'type': 'null'}]},
    {'type': 'array', 'items': {'type': 'integer'}, 'uniqueItems': False, 'minItems': 500},
    {'$defs': {'N': {'type': 'object', 'properties': {'kids': {
        'type': 'array', 'items': {'$ref': '#/$defs/N'}}}}}, '$ref': '#/$defs/N'},
    {'type': 'string', 'pattern': '^(?:[a-z]+)-(?P<n>\\d{2})$'},
])
def test_enforceable_schemas_compile(tiny, schema):
    rf = {'type': 'json_schema', 'json_schema': {'name': 'x', 'schema': schema}}
    assert tiny[2].response_format(rf) is not None


def test_the_cache_returns_the_same_compiled_grammar(tiny):
    grammars = tiny[2]
    rf = {'type': 'json_schema', 'json_schema': {'name': 'a', 'schema': WEATHER}}
    first = grammars.response_format(rf)
    assert grammars.response_format(json.loads(json.dumps(rf))) is first
    reordered = dict(WEATHER, properties=dict(reversed(WEATHER['properties'].items())))
    rf2 = {'type': 'json_schema', 'json_schema': {'name': 'a', 'schema': reordered}}
    assert grammars.response_format(rf2) is not first        # property order is output order
    calls = grammars.tool_calls(TOOLS, HERMES, None, True)
    assert grammars.tool_calls(json.loads(json.dumps(TOOLS)), HERMES, None, True) is calls
    assert grammars.tool_calls(TOOLS, HERMES, None, False) is not calls


def test_concurrent_compiles_share_one_grammar(tiny):
    from concurrent.futures import ThreadPoolExecutor
    rf = {'type': 'json_schema', 'json_schema': {'name': 'c', 'schema': FLAGS}}
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda _: tiny[2].response_format(rf), range(8)))
    assert all(g is got[0] for g in got)


def test_missing_xgrammar_is_named_with_the_fix(tiny, monkeypatch):
    monkeypatch.setattr(_constrain, 'xgr', None)
    with pytest.raises(ImportError, match='structured output needs xgrammar: pip install'):
        Grammars(tiny[0], 538, [2])


def test_importing_lazyllm_imports_neither_xgrammar_nor_torch():
    code = 'import sys, lazyllm; sys.exit(int({"xgrammar", "torch"} & sys.modules.keys() != set()))'
    assert subprocess.run([sys.executable, '-c', code], timeout=120).returncode == 0
