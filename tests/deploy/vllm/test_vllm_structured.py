"""Tool calling and structured output on one real vLLM server (SmolLM2-135M-Instruct), through
the official ``openai`` SDK and through lazyllm's own path.

The server runs with ``tool_call_parser='hermes'``, ``enable_auto_tool_choice=True``,
``structured_outputs_backend='xgrammar'`` and a hermes-style ChatML template that shows the
tools to the model (SmolLM2's own template ignores them and cannot render an assistant turn
with tool calls). Forced tool calls ("required", a named function) and ``response_format``
are constrained decoding, so even this small model answers in the right shape; the tests
assert that shape only, never the model's text. Each request's latency is printed (``-s``).
"""
import json
import sys
import time

import pytest

import lazyllm

openai = pytest.importorskip('openai', reason='the openai SDK is not installed: '
                             'pip install openai')
pydantic = pytest.importorskip('pydantic')

# ChatML with Hermes-style tool prompts and tool-call turns (what tool_call_parser='hermes'
# reads back: <tool_call>{"name": ..., "arguments": {...}}</tool_call>)
TOOL_TEMPLATE = """\
{%- if tools %}<|im_start|>system
{{ messages[0]['content'] if messages[0]['role'] == 'system' else 'You are a helpful \
assistant.' }}

You may call one or more functions. Function signatures are within <tools></tools>:
<tools>
{%- for tool in tools %}
{{ tool | tojson }}
{%- endfor %}
</tools>
To call a function, answer with <tool_call>{"name": <function-name>, "arguments": \
<args-json-object>}</tool_call><|im_end|>
{% elif messages[0]['role'] != 'system' %}<|im_start|>system
You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>
{% endif %}
{%- for message in messages %}
{%- if message['role'] == 'system' %}{% if not tools %}<|im_start|>system
{{ message['content'] }}<|im_end|>
{% endif %}
{%- elif message['role'] == 'assistant' and message.get('tool_calls') %}<|im_start|>assistant
{{ message['content'] or '' }}
{%- for call in message['tool_calls'] %}<tool_call>
{"name": "{{ call['function']['name'] }}", "arguments": {{ call['function']['arguments'] \
if call['function']['arguments'] is string else call['function']['arguments'] | tojson }}}
</tool_call>{% endfor %}<|im_end|>
{% elif message['role'] == 'tool' %}<|im_start|>user
<tool_response>
{{ message['content'] }}
</tool_response><|im_end|>
{% else %}<|im_start|>{{ message['role'] }}
{{ message['content'] }}<|im_end|>
{% endif %}
{%- endfor %}
{%- if add_generation_prompt %}<|im_start|>assistant
{% endif %}"""

CITY_SCHEMA = {
    'type': 'object',
    'properties': {'city': {'type': 'string', 'maxLength': 40},
                   'country': {'type': 'string', 'maxLength': 40}},
    'required': ['city', 'country'],
    'additionalProperties': False,
}
TOOLS = [
    {'type': 'function', 'function': {
        'name': 'get_weather', 'description': 'The current weather in a city.', 'strict': True,
        'parameters': {'type': 'object',
                       'properties': {'city': {'type': 'string', 'maxLength': 40},
                                      'unit': {'type': 'string',
                                               'enum': ['celsius', 'fahrenheit']}},
                       'required': ['city', 'unit'], 'additionalProperties': False}}},
    {'type': 'function', 'function': {
        'name': 'get_time', 'description': 'The local time in a timezone.', 'strict': True,
        'parameters': {'type': 'object',
                       'properties': {'timezone': {'type': 'string', 'maxLength': 40}},
                       'required': ['timezone'], 'additionalProperties': False}}},
]
# 'strict': True pins a forced call's arguments to the schema (vLLM's default tool_strict_level
# 'auto' constrains only the call's envelope otherwise, and this small model then copies the
# schema into the arguments until it runs out of tokens)
REQUIRED = {t['function']['name']: t['function']['parameters']['required'] for t in TOOLS}
NAMED = {'type': 'function', 'function': {'name': 'get_weather'}}
WEATHER = [{'role': 'user', 'content': 'What is the weather like in Paris today?'}]
CAPITAL = [{'role': 'user', 'content': 'Which city is the capital of France? Answer in JSON.'}]
MAX_TOKENS = 96
LATENCY: dict = {}


class City(pydantic.BaseModel):
    city: str
    country: str


def timed(name, fn, *args, **kwargs):
    """fn(*args, **kwargs), its latency recorded and printed (no threshold)."""
    t = time.monotonic()
    out = fn(*args, **kwargs)
    LATENCY[name] = time.monotonic() - t
    sys.stderr.write(f'\n[vllm] structured {name}: {LATENCY[name] * 1000:.0f} ms\n')
    return out


@pytest.fixture(scope='module')
def server(vllm_python, smollm_path, server_options, timed_start, tmp_path_factory):
    template = tmp_path_factory.mktemp('vllm-tools') / 'hermes_chatml.jinja'
    template.write_text(TOOL_TEMPLATE)
    m = lazyllm.TrainableModule(str(smollm_path)).deploy_method(
        lazyllm.deploy.vllm, python=vllm_python, seed=0, enable_auto_tool_choice=True,
        tool_call_parser='hermes', structured_outputs_backend='xgrammar',
        chat_template=str(template), **server_options)
    timed_start(m, 'smollm2 tools+structured')
    yield m
    m.stop()
    if LATENCY:
        sys.stderr.write('\n[vllm] structured latencies: ' + ', '.join(
            f'{k} {v * 1000:.0f} ms' for k, v in LATENCY.items()) + '\n')


@pytest.fixture(scope='module')
def client(server):
    assert server.url.endswith('/v1/')
    with openai.OpenAI(base_url=server.url, api_key=server.deployment.api_key or 'x',
                       max_retries=0) as c:
        yield c


@pytest.fixture(scope='module')
def model(server):
    return server.deployment.served_name


def check_call(call, names=tuple(REQUIRED)):
    """A complete function call: a known name, JSON-object arguments with its required keys."""
    assert call.type == 'function' and call.id
    assert call.function.name in names
    args = json.loads(call.function.arguments)
    assert isinstance(args, dict) and set(REQUIRED[call.function.name]) <= set(args)
    return args


def test_server_runs_with_the_tool_and_structured_output_flags(server):
    line = ' '.join(server.deployment.job.argv)
    for part in ('--enable-auto-tool-choice', '--tool-call-parser hermes',
                 '--structured-outputs-config.backend xgrammar', '--chat-template /'):
        assert part in line, part


def test_json_schema_strict(client, model):
    out = timed('json_schema', client.chat.completions.create, model=model, messages=CAPITAL,
                temperature=0, max_tokens=MAX_TOKENS, response_format={
                    'type': 'json_schema',
                    'json_schema': {'name': 'city', 'schema': CITY_SCHEMA, 'strict': True}})
    choice = out.choices[0]
    assert choice.finish_reason == 'stop'
    data = json.loads(choice.message.content)
    assert set(data) == {'city', 'country'}
    assert all(isinstance(v, str) for v in data.values())


def test_parse_into_a_pydantic_model(client, model):
    out = timed('parse(City)', client.chat.completions.parse, model=model, messages=CAPITAL,
                temperature=0, max_tokens=MAX_TOKENS, response_format=City)
    parsed = out.choices[0].message.parsed
    assert isinstance(parsed, City)
    assert isinstance(parsed.city, str) and isinstance(parsed.country, str)


def test_json_object(client, model):
    out = timed('json_object', client.chat.completions.create, model=model, messages=CAPITAL,
                temperature=0, max_tokens=MAX_TOKENS, response_format={'type': 'json_object'})
    choice = out.choices[0]
    assert choice.finish_reason == 'stop'
    assert isinstance(json.loads(choice.message.content), dict)


def test_named_tool_choice(client, model):
    out = timed('tool_choice=named', client.chat.completions.create, model=model,
                messages=WEATHER, tools=TOOLS, tool_choice=NAMED, temperature=0,
                max_tokens=MAX_TOKENS)
    calls = out.choices[0].message.tool_calls
    assert calls and calls[0].function.name == 'get_weather'
    args = check_call(calls[0], ('get_weather',))
    assert args['unit'] in ('celsius', 'fahrenheit')


def test_required_tool_choice(client, model):
    out = timed('tool_choice=required', client.chat.completions.create, model=model,
                messages=WEATHER, tools=TOOLS, tool_choice='required', temperature=0,
                max_tokens=MAX_TOKENS)
    calls = out.choices[0].message.tool_calls
    assert calls
    for call in calls:
        check_call(call)


def test_auto_tool_choice_answers_in_a_valid_shape(client, model):
    """"auto": the model decides; either way the answer is well formed."""
    out = timed('tool_choice=auto', client.chat.completions.create, model=model,
                messages=WEATHER, tools=TOOLS, tool_choice='auto', temperature=0,
                max_tokens=MAX_TOKENS)
    choice = out.choices[0]
    if choice.message.tool_calls:
        assert choice.finish_reason == 'tool_calls'
        for call in choice.message.tool_calls:
            check_call(call)
    else:
        assert isinstance(choice.message.content, str)


def test_streamed_named_tool_call_assembles_into_the_same_call(client, model):
    whole = client.chat.completions.create(model=model, messages=WEATHER, tools=TOOLS,
                                           tool_choice=NAMED, temperature=0,
                                           max_tokens=MAX_TOKENS).choices[0].message
    t = time.monotonic()
    calls: dict = {}
    first = None
    chunks = 0
    with client.chat.completions.create(model=model, messages=WEATHER, tools=TOOLS,
                                        tool_choice=NAMED, temperature=0,
                                        max_tokens=MAX_TOKENS, stream=True) as stream:
        for chunk in stream:
            chunks += 1
            for choice in chunk.choices:
                for d in choice.delta.tool_calls or ():
                    first = first or time.monotonic() - t
                    call = calls.setdefault(d.index, {'id': '', 'name': '', 'arguments': ''})
                    call['id'] = call['id'] or d.id or ''
                    if d.function is not None:
                        call['name'] += d.function.name or ''
                        call['arguments'] += d.function.arguments or ''
    LATENCY['stream named (first tool delta)'] = first or 0.0
    LATENCY['stream named (whole)'] = time.monotonic() - t
    sys.stderr.write(f'\n[vllm] structured stream named: first tool delta '
                     f'{(first or 0) * 1000:.0f} ms, whole '
                     f'{LATENCY["stream named (whole)"] * 1000:.0f} ms, {chunks} chunks\n')
    assert list(calls) == [0] and calls[0]['id']
    assert calls[0]['name'] == whole.tool_calls[0].function.name == 'get_weather'
    assert json.loads(calls[0]['arguments']) == json.loads(whole.tool_calls[0].function.arguments)


# -- lazyllm's own path: the module's client, and the module itself ------------------------------

def test_lazyllm_client_sends_tool_choice_and_response_format(server, model):
    """The deployment's client passes any request field into the body."""
    c = server.deployment.client()
    out = timed('lazyllm client named', c.chat, WEATHER, model=model, tools=TOOLS,
                tool_choice=NAMED, temperature=0, max_tokens=MAX_TOKENS)
    assert out.tool_calls and out.tool_calls[0]['function']['name'] == 'get_weather'
    assert set(REQUIRED['get_weather']) <= set(json.loads(
        out.tool_calls[0]['function']['arguments']))
    streamed = lazyllm.client.ChatResult.from_deltas(c.stream_chat(
        WEATHER, model=model, tools=TOOLS, tool_choice=NAMED, temperature=0,
        max_tokens=MAX_TOKENS))
    assert [t['function']['name'] for t in streamed.tool_calls] == ['get_weather']
    assert json.loads(streamed.tool_calls[0]['function']['arguments']) == \
        json.loads(out.tool_calls[0]['function']['arguments'])
    js = timed('lazyllm client json_schema', c.chat, CAPITAL, model=model, temperature=0,
               max_tokens=MAX_TOKENS, response_format={
                   'type': 'json_schema',
                   'json_schema': {'name': 'city', 'schema': CITY_SCHEMA, 'strict': True}})
    assert set(json.loads(js.content)) == {'city', 'country'}


def test_module_chat_with_tools(server):
    """TrainableModule takes tools= (tool_choice is then vLLM's default, "auto")."""
    out = timed('module.chat(tools=)', server.share(temperature=0, max_tokens=MAX_TOKENS).chat,
                WEATHER[0]['content'], tools=TOOLS)
    if out.tool_calls:
        assert out.finish_reason == 'tool_calls'
        for call in out.tool_calls:
            assert call['function']['name'] in REQUIRED
            assert isinstance(json.loads(call['function']['arguments']), dict)
    else:
        assert isinstance(out.content, str)


def test_module_with_tool_choice(server):
    """TrainableModule takes tool_choice (and tools) per call and as share() defaults."""
    view = server.share(temperature=0, max_tokens=MAX_TOKENS, tools=TOOLS, tool_choice=NAMED)
    for name, out in (
            ('module share(tool_choice=named)', lambda: view.chat(WEATHER[0]['content'])),
            ('module chat(tool_choice=named)', lambda: server.share(temperature=0).chat(
                WEATHER[0]['content'], tools=TOOLS, tool_choice=NAMED,
                max_tokens=MAX_TOKENS))):
        out = timed(name, out)
        assert out.tool_calls and out.tool_calls[0]['function']['name'] == 'get_weather'
        assert set(REQUIRED['get_weather']) <= set(json.loads(
            out.tool_calls[0]['function']['arguments']))


def test_module_with_response_format(server):
    view = server.share(temperature=0, max_tokens=MAX_TOKENS, response_format={
        'type': 'json_schema',
        'json_schema': {'name': 'city', 'schema': CITY_SCHEMA, 'strict': True}})
    out = timed('module share(response_format)', view, CAPITAL[0]['content'])
    assert set(json.loads(out)) == {'city', 'country'}
    out = timed('module call(response_format=json_object)', server.share(temperature=0),
                CAPITAL[0]['content'], response_format={'type': 'json_object'},
                max_tokens=MAX_TOKENS)
    assert isinstance(json.loads(out), dict)
