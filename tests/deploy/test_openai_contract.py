"""The built-in LLM engine through the official clients: the ``openai`` SDK, LangChain's
``ChatOpenAI`` / ``OpenAIEmbeddings``, and lazyllm's own module calls.

Real engines on SmolLM2-135M-Instruct (chat, tools, structured output) and all-MiniLM-L6-v2
(embeddings). A small model's free text is never asserted: answers are greedy (temperature
0), tool calls and JSON are constrained by the engine's grammar, and the tests check their
structure (names, JSON, required keys and their types) and the SDKs' parsed objects.
"""
import json

import httpx
import openai
import pytest
from pydantic import BaseModel

import lazyllm

WEATHER = {'type': 'function', 'function': {
    'name': 'get_weather', 'description': 'Get the weather forecast for a city',
    'parameters': {'type': 'object', 'properties': {
        'city': {'type': 'string'}, 'days': {'type': 'integer'}},
        'required': ['city', 'days']}}}
TIME = {'type': 'function', 'function': {
    'name': 'get_time', 'description': 'Get the local time in a city',
    'parameters': {'type': 'object', 'properties': {
        'city': {'type': 'string'}, 'hour24': {'type': 'boolean'}},
        'required': ['city', 'hour24']}}}
TOOLS = [WEATHER, TIME]
ASK = [{'role': 'user', 'content': 'What is the weather in Paris for the next 3 days?'}]
JSON_TYPES = {'string': str, 'integer': int, 'number': (int, float), 'boolean': bool,
              'object': dict, 'array': list}
CALL_TOKENS = 64      # room for one constrained call in Hermes tags (~35 tokens)


class City(BaseModel):
    city: str
    country: str


class GetWeather(BaseModel):
    """Get the weather forecast for a city."""
    city: str
    days: int


def get_time(city: str, hour24: bool) -> str:
    """Get the local time in a city.

    Args:
        city: the city
        hour24: 24-hour clock or not
    """
    return '12:00'


@pytest.fixture(scope='module')
def url(smollm_llm):
    return smollm_llm.url


@pytest.fixture(scope='module')
def client(url):
    with openai.OpenAI(base_url=url, api_key='unused', max_retries=0, timeout=600) as c:
        yield c


@pytest.fixture(scope='module')
def model_id(client):
    return client.models.list().data[0].id


def check_call(name, arguments, tools=TOOLS):
    """``arguments`` (a JSON string or a dict) satisfy the tool's schema: every required key,
    each of its declared type."""
    schemas = {t['function']['name']: t['function']['parameters'] for t in tools}
    assert name in schemas, name
    args = json.loads(arguments) if isinstance(arguments, str) else arguments
    assert isinstance(args, dict), arguments
    schema = schemas[name]
    for key in schema['required']:
        kind = schema['properties'][key]['type']
        assert key in args, (key, args)
        assert isinstance(args[key], JSON_TYPES[kind]), (key, args)
        if kind == 'integer':
            assert not isinstance(args[key], bool), (key, args)
    return args


def check_message_calls(message, tools=TOOLS):
    assert message.tool_calls, message
    for call in message.tool_calls:
        assert call.type == 'function' and call.id
        check_call(call.function.name, call.function.arguments, tools)


# -- models -----------------------------------------------------------------------------------
def test_models_list_and_retrieve(client, model_id):
    listed = client.models.list()
    assert [m.id for m in listed.data] == [model_id]
    card = client.models.retrieve(model_id)
    assert card.id == model_id and card.object == 'model' and card.owned_by


# -- chat -------------------------------------------------------------------------------------
def test_chat_and_its_stream_agree(client, model_id):
    messages = [{'role': 'user', 'content': 'What is the capital of France?'}]
    whole = client.chat.completions.create(model=model_id, messages=messages, temperature=0,
                                           max_tokens=24)
    answer = whole.choices[0].message
    assert whole.object == 'chat.completion' and whole.model == model_id
    assert answer.role == 'assistant' and answer.content and answer.tool_calls is None
    assert whole.choices[0].finish_reason in ('stop', 'length')
    assert whole.usage.completion_tokens > 0 and whole.usage.prompt_tokens > 0

    chunks = list(client.chat.completions.create(
        model=model_id, messages=messages, temperature=0, max_tokens=24, stream=True,
        stream_options={'include_usage': True}))
    text = ''.join(c.choices[0].delta.content or '' for c in chunks if c.choices)
    assert text == answer.content
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == whole.choices[0].finish_reason and not any(finishes[:-1])
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == \
        whole.usage.completion_tokens


# -- tools ------------------------------------------------------------------------------------
def test_tool_choice_auto_answers_text_or_valid_calls(client, model_id):
    out = client.chat.completions.create(model=model_id, messages=ASK, tools=TOOLS,
                                         tool_choice='auto', temperature=0, max_tokens=CALL_TOKENS)
    choice = choice_of(out)
    if choice.message.tool_calls:
        check_message_calls(choice.message)
        assert choice.finish_reason == 'tool_calls'
    else:
        assert isinstance(choice.message.content, str)
        assert choice.finish_reason in ('stop', 'length')


def choice_of(out):
    assert len(out.choices) == 1
    return out.choices[0]


def test_tool_choice_required_calls_a_tool(client, model_id):
    out = client.chat.completions.create(model=model_id, messages=ASK, tools=TOOLS,
                                         tool_choice='required', temperature=0,
                                         max_tokens=CALL_TOKENS)
    choice = choice_of(out)
    check_message_calls(choice.message)
    assert choice.finish_reason == 'tool_calls'
    assert not choice.message.content


@pytest.mark.parametrize('tool', [WEATHER, TIME], ids=lambda t: t['function']['name'])
def test_named_tool_choice_calls_that_tool(client, model_id, tool):
    name = tool['function']['name']
    out = client.chat.completions.create(
        model=model_id, messages=ASK, tools=TOOLS, temperature=0, max_tokens=CALL_TOKENS,
        tool_choice={'type': 'function', 'function': {'name': name}})
    choice = choice_of(out)
    check_message_calls(choice.message)
    assert {c.function.name for c in choice.message.tool_calls} == {name}
    assert choice.finish_reason == 'tool_calls'


def test_tool_choice_none_answers_text(client, model_id):
    out = client.chat.completions.create(model=model_id, messages=ASK, tools=TOOLS,
                                         tool_choice='none', temperature=0, max_tokens=16)
    choice = choice_of(out)
    assert choice.message.tool_calls is None
    assert isinstance(choice.message.content, str) and choice.message.content
    assert choice.finish_reason in ('stop', 'length')


def test_parallel_tool_calls_false_gives_at_most_one_call(client, model_id):
    both = [{'role': 'user', 'content': 'What is the weather in Paris for 3 days, and what '
                                        'time is it in Tokyo? Call both tools.'}]
    out = client.chat.completions.create(model=model_id, messages=both, tools=TOOLS,
                                         tool_choice='required', parallel_tool_calls=False,
                                         temperature=0, max_tokens=2 * CALL_TOKENS)
    choice = choice_of(out)
    check_message_calls(choice.message)
    assert len(choice.message.tool_calls) == 1


def test_streamed_tool_call_deltas_assemble_into_the_call(client, model_id):
    """The SDK's stream helper and a manual merge of ``delta.tool_calls`` both rebuild the
    call the non-streamed request returns (greedy decoding: the same tokens)."""
    kw = dict(model=model_id, messages=ASK, tools=TOOLS, tool_choice='required',
              temperature=0, max_tokens=CALL_TOKENS)
    whole = choice_of(client.chat.completions.create(**kw)).message.tool_calls
    with client.chat.completions.stream(**kw) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()
    assert final.choices[0].finish_reason == 'tool_calls'
    streamed = final.choices[0].message.tool_calls
    assert [(c.function.name, json.loads(c.function.arguments)) for c in streamed] == \
        [(c.function.name, json.loads(c.function.arguments)) for c in whole]
    check_message_calls(final.choices[0].message)

    calls, finish = {}, None
    for chunk in client.chat.completions.create(stream=True, **kw):
        delta = chunk.choices[0].delta
        for piece in delta.tool_calls or ():
            call = calls.setdefault(piece.index, {'id': '', 'name': '', 'arguments': ''})
            call['id'] += piece.id or ''
            if piece.function is not None:
                call['name'] += piece.function.name or ''
                call['arguments'] += piece.function.arguments or ''
        finish = chunk.choices[0].finish_reason or finish
    assert finish == 'tool_calls' and sorted(calls) == list(range(len(calls)))
    assert [(c['name'], json.loads(c['arguments'])) for c in calls.values()] == \
        [(c.function.name, json.loads(c.function.arguments)) for c in whole]
    assert all(c['id'].startswith('call_') for c in calls.values())


def test_agent_round_trip(client, model_id):
    """Call, run the tool, send both back: the engine renders the assistant's calls
    (content null) and the tool result, and answers."""
    first = choice_of(client.chat.completions.create(
        model=model_id, messages=ASK, tools=[WEATHER], temperature=0, max_tokens=CALL_TOKENS,
        tool_choice={'type': 'function', 'function': {'name': 'get_weather'}})).message
    call = first.tool_calls[0]
    history = ASK + [
        {'role': 'assistant', 'content': None, 'tool_calls': [
            {'id': call.id, 'type': 'function',
             'function': {'name': call.function.name, 'arguments': call.function.arguments}}]},
        {'role': 'tool', 'tool_call_id': call.id, 'content': '{"forecast": "sunny, 25 C"}'}]
    out = client.chat.completions.create(model=model_id, messages=history, tools=[WEATHER],
                                         tool_choice='none', temperature=0, max_tokens=24)
    answer = choice_of(out).message
    assert answer.tool_calls is None and isinstance(answer.content, str) and answer.content
    # the same turn with tool_choice auto: a text answer or a well-formed further call
    again = choice_of(client.chat.completions.create(
        model=model_id, messages=history, tools=[WEATHER], temperature=0,
        max_tokens=CALL_TOKENS)).message
    if again.tool_calls:
        check_message_calls(again, [WEATHER])
    else:
        assert isinstance(again.content, str)


# -- structured output ------------------------------------------------------------------------
def test_json_object_parses_to_a_dict(client, model_id):
    out = client.chat.completions.create(
        model=model_id, temperature=0, max_tokens=48, response_format={'type': 'json_object'},
        messages=[{'role': 'user', 'content': 'Give a city and its country as JSON.'}])
    choice = choice_of(out)
    assert choice.finish_reason == 'stop', choice    # the grammar closed the object
    assert isinstance(json.loads(choice.message.content), dict)


def test_strict_json_schema_parses_into_a_pydantic_model(client, model_id):
    out = client.chat.completions.parse(
        model=model_id, temperature=0, max_tokens=48, response_format=City,
        messages=[{'role': 'user', 'content': 'Give a city and its country.'}])
    parsed = choice_of(out).message.parsed
    assert isinstance(parsed, City), out


# -- errors -----------------------------------------------------------------------------------
def test_refused_field_is_a_bad_request_naming_it(client, model_id):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=model_id, messages=ASK, n=2, max_tokens=4)
    e = info.value
    assert e.status_code == 400 and e.param == 'n' and e.code == 'unsupported_parameter'
    assert e.type == 'invalid_request_error' and 'n=2' in e.message
    assert set(e.body) == {'message', 'type', 'param', 'code'}

    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=model_id, messages=ASK, max_tokens=4,
                                       extra_body={'frobnicate': True})
    assert info.value.param == 'frobnicate' and info.value.code == 'unknown_parameter'

    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=model_id, messages=ASK, temperature=7)
    assert info.value.param == 'temperature' and info.value.code == 'invalid_value'


def test_unknown_model_is_not_found(client):
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model='no-such-model', messages=ASK, max_tokens=4)
    assert info.value.code == 'model_not_found' and info.value.param == 'model'
    assert 'no-such-model' in info.value.message
    with pytest.raises(openai.NotFoundError) as info:
        client.models.retrieve('no-such-model')
    assert info.value.code == 'model_not_found'


def openai_error(response):
    body = response.json()
    assert set(body) == {'error'}, body
    assert set(body['error']) == {'message', 'type', 'param', 'code'}, body
    assert isinstance(body['error']['message'], str) and body['error']['message']
    assert body['error']['code'] is None or isinstance(body['error']['code'], str)
    return body['error']


def test_unknown_route_and_wrong_method_have_openai_shape(url, client):
    r = httpx.post(url + 'no/such/route', json={})
    assert r.status_code == 404
    assert openai_error(r)['code'] == 'not_found'
    with pytest.raises(openai.NotFoundError):        # the SDK maps it too
        client.post('/no/such/route', body={}, cast_to=httpx.Response)

    r = httpx.get(url + 'chat/completions')
    assert r.status_code == 405
    err = openai_error(r)
    assert err['code'] == 'method_not_allowed' and 'POST' in err['message']


def test_wrong_method_names_the_allowed_ones_in_an_allow_header(url):
    r = httpx.get(url + 'chat/completions')
    assert r.status_code == 405 and 'POST' in r.headers.get('allow', '')


# -- LangChain --------------------------------------------------------------------------------
@pytest.fixture(scope='module')
def chat_model(url, model_id):
    from langchain_openai import ChatOpenAI
    return ChatOpenAI(base_url=url, api_key='x', model=model_id, temperature=0,
                      max_tokens=CALL_TOKENS, max_retries=0, timeout=600)


@pytest.mark.parametrize('tool, name', [(GetWeather, 'GetWeather'), (get_time, 'get_time')],
                         ids=['pydantic', 'function'])
def test_langchain_bind_tools_named(chat_model, tool, name):
    from langchain_core.messages import AIMessage
    from langchain_core.utils.function_calling import convert_to_openai_tool
    msg = chat_model.bind_tools([tool], tool_choice=name).invoke(
        'What is the weather in Paris for 3 days, and the time there?')
    assert isinstance(msg, AIMessage) and msg.tool_calls and not msg.invalid_tool_calls
    assert {c['name'] for c in msg.tool_calls} == {name}
    for call in msg.tool_calls:
        check_call(call['name'], call['args'], [convert_to_openai_tool(tool)])


@pytest.mark.parametrize('method', [None, 'json_schema', 'function_calling'])
def test_langchain_structured_output(chat_model, method):
    kw = {} if method is None else {'method': method}
    out = chat_model.with_structured_output(City, **kw).invoke('Give a city and its country.')
    assert isinstance(out, City)


def test_langchain_embeddings(emb):
    from langchain_openai import OpenAIEmbeddings
    engine = emb
    model_id = httpx.get(engine.url + 'models').json()['data'][0]['id']
    lc = OpenAIEmbeddings(base_url=engine.url, model=model_id, api_key='x',
                          check_embedding_ctx_length=False, max_retries=0)
    docs = lc.embed_documents(['a cat sat on the mat', 'stock prices fell today'])
    query = lc.embed_query('where did the cat sit?')
    assert len(docs) == 2 and all(len(v) == 384 for v in [*docs, query])
    assert all(isinstance(x, float) for x in query)
    with openai.OpenAI(base_url=engine.url, api_key='unused', max_retries=0) as c:
        out = c.embeddings.create(model=model_id, input=['a cat sat on the mat'])
    assert len(out.data) == 1 and len(out.data[0].embedding) == 384


# -- lazyllm's own calls ----------------------------------------------------------------------
def test_share_with_json_formatter_returns_a_dict(smollm_llm):
    share = smollm_llm.share(prompt='Answer in JSON.', format=lazyllm.formatter.JsonFormatter(),
                             temperature=0, max_tokens=48)
    assert isinstance(share('Give a city and its country'), dict)


def test_module_chat_with_a_named_tool(smollm_llm):
    result = smollm_llm.chat('What is the weather in Paris for 3 days?', tools=TOOLS,
                             tool_choice={'type': 'function', 'function': {'name': 'get_weather'}},
                             temperature=0, max_tokens=CALL_TOKENS)
    assert result.finish_reason == 'tool_calls' and result.tool_calls
    for call in result.tool_calls:
        assert call['function']['name'] == 'get_weather'
        check_call(call['function']['name'], call['function']['arguments'])
