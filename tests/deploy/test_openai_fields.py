"""Every request field of OpenAI's Chat Completions and Completions APIs, as the installed
``openai`` package defines them, is honoured, informational or refused by the built-in LLM
engine (``lazyllm.deploy.servers._fields``), never silently ignored.

The field lists come from the SDK, so a field a new SDK adds fails
``test_every_sdk_field_is_in_a_table`` until ``_fields`` says what happens to it (and, if it
is refused, ``test_refused_field_is_a_400_naming_it`` until USED below has a value for it).
Requests go raw over httpx to the tiny random model: only statuses and shapes are checked.
"""
import json

import httpx
import openai.types.chat.completion_create_params as chat_params
import openai.types.completion_create_params as completion_params
import pytest

from lazyllm.deploy.servers._fields import (
    CHAT_HONOURED,
    COMPLETION_HONOURED,
    INFORMATIONAL,
    REFUSED,
)

CHAT_FIELDS = frozenset(chat_params.CompletionCreateParamsBase.__annotations__) | {'stream'}
COMPLETION_FIELDS = frozenset(
    completion_params.CompletionCreateParamsBase.__annotations__) | {'stream'}
ROUTES = {'chat': ('chat/completions', CHAT_FIELDS, CHAT_HONOURED),
          'completions': ('completions', COMPLETION_FIELDS, COMPLETION_HONOURED)}
BASE = {'chat': {'messages': [{'role': 'user', 'content': 'the quick brown fox'}],
                 'max_tokens': 3},
        'completions': {'prompt': 'the quick brown fox', 'max_tokens': 3}}
TOOL = {'type': 'function', 'function': {
    'name': 'get_weather', 'parameters': {'type': 'object', 'properties': {
        'city': {'type': 'string'}}, 'required': ['city']}}}

# a value that uses each refused field (one the SDK's types accept)
USED = {
    'n': 2, 'best_of': 2, 'logprobs': True, 'top_logprobs': 2, 'echo': True, 'suffix': 'the end',
    'audio': {'voice': 'alloy', 'format': 'wav'}, 'modalities': ['text', 'audio'],
    'prediction': {'type': 'content', 'content': 'the quick brown fox'},
    'web_search_options': {'search_context_size': 'low'},
    'functions': [TOOL['function']], 'function_call': 'auto', 'reasoning_effort': 'low',
    'verbosity': 'low', 'service_tier': 'flex', 'store': True,
    'moderation': {'model': 'omni-moderation-latest'}, 'prompt_cache_retention': '24h',
    'prompt_cache_options': {'mode': 'explicit'},
}
USED_ON_COMPLETIONS = {'logprobs': 1}     # an int there (how many top tokens)

# a valid value of each honoured or informational field (with what it needs beside it)
VALID = {
    'messages': {}, 'prompt': {}, 'model': None,   # the model id, filled in by the test
    'stream': {'stream': True}, 'stream_options': {'stream': True,
                                                   'stream_options': {'include_usage': True}},
    'temperature': {'temperature': 0.7}, 'top_p': {'top_p': 0.9},
    'max_tokens': {'max_tokens': 2}, 'max_completion_tokens': {'max_completion_tokens': 2},
    'stop': {'stop': ['\n', 'fox']}, 'seed': {'seed': 1234, 'temperature': 1.0},
    'presence_penalty': {'presence_penalty': 0.5}, 'frequency_penalty': {'frequency_penalty': 1},
    'logit_bias': {'logit_bias': {'5': 10, '7': -100}},
    'response_format': {'response_format': {'type': 'json_object'}},
    'tools': {'tools': [TOOL]}, 'tool_choice': {'tools': [TOOL], 'tool_choice': 'none'},
    'parallel_tool_calls': {'tools': [TOOL], 'parallel_tool_calls': False},
    'top_k': {'top_k': 5}, 'min_p': {'min_p': 0.1}, 'repetition_penalty': {
        'repetition_penalty': 1.3},
    'user': {'user': 'user-1'}, 'safety_identifier': {'safety_identifier': 'hash-1'},
    'prompt_cache_key': {'prompt_cache_key': 'key-1'}, 'metadata': {'metadata': {'a': 'b'}},
}


@pytest.fixture(scope='module')
def http(tiny_llm):
    with httpx.Client(base_url=tiny_llm.url, timeout=120) as c:
        yield c


@pytest.fixture(scope='module')
def model_id(http):
    return http.get('models').json()['data'][0]['id']


def error_of(r, status):
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {'error'} and set(body['error']) == {'message', 'type', 'param', 'code'}
    return body['error']


def test_every_sdk_field_is_in_a_table():
    tables = set(REFUSED) | set(INFORMATIONAL)
    assert sorted(CHAT_FIELDS - CHAT_HONOURED - tables) == []
    assert sorted(COMPLETION_FIELDS - COMPLETION_HONOURED - tables) == []
    for name in ('messages', 'model', 'temperature', 'tools'):     # the SDK was read at all
        assert name in CHAT_FIELDS
    assert {'prompt', 'echo', 'suffix'} <= COMPLETION_FIELDS
    assert not CHAT_HONOURED & set(REFUSED) and not COMPLETION_HONOURED & set(REFUSED)


def refused_cases():
    for route, (_, fields, honoured) in ROUTES.items():
        for field in sorted(fields - honoured):
            if field in REFUSED:
                yield pytest.param(route, field, id=f'{route}-{field}')


@pytest.mark.parametrize('route, field', list(refused_cases()))
def test_refused_field_is_a_400_naming_it(http, route, field):
    assert field in USED, f'add a value that uses the newly refused field {field!r} to USED'
    value = USED_ON_COMPLETIONS.get(field, USED[field]) if route == 'completions' \
        else USED[field]
    path = ROUTES[route][0]
    err = error_of(http.post(path, json={**BASE[route], field: value}), 400)
    assert err['param'] == field and err['code'] == 'unsupported_parameter', err
    assert field in err['message'] and err['type'] == 'invalid_request_error'
    # the "not used" values (and null) are accepted: a client that sends defaults works
    for neutral in (*REFUSED[field][0], None):
        r = http.post(path, json={**BASE[route], field: neutral})
        assert r.status_code == 200, (field, neutral, r.text)


def honoured_cases():
    for route, (_, fields, honoured) in ROUTES.items():
        for field in sorted((fields | honoured) - set(REFUSED)):
            yield pytest.param(route, field, id=f'{route}-{field}')


@pytest.mark.parametrize('route, field', list(honoured_cases()))
def test_honoured_field_with_a_valid_value_is_a_200(http, model_id, route, field):
    assert field in VALID, f'add a valid value for {field!r} to VALID'
    extra = {'model': model_id} if field == 'model' else VALID[field]
    path = ROUTES[route][0]
    body = {**BASE[route], **extra}
    if field == 'max_completion_tokens':     # the same budget twice would have to agree
        del body['max_tokens']
    if body.get('stream'):
        with http.stream('POST', path, json=body) as r:
            assert r.status_code == 200, r.read()
            frames = [ln[6:] for ln in r.iter_lines() if ln.startswith('data: ')]
        assert frames[-1] == '[DONE]'
        chunks = [json.loads(f) for f in frames[:-1]]
        assert any(c['choices'] and c['choices'][0]['finish_reason'] for c in chunks)
        if field == 'stream_options':
            assert chunks[-1]['choices'] == [] and chunks[-1]['usage']['completion_tokens'] > 0
        return
    r = http.post(path, json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out['object'] == ('chat.completion' if route == 'chat' else 'text_completion')
    budget = body.get('max_tokens') or body['max_completion_tokens']
    assert out['usage']['completion_tokens'] <= budget


@pytest.mark.parametrize('field, bad', [('user', 5), ('metadata', ['a']),
                                        ('metadata', {'a': 1}), ('safety_identifier', {})])
def test_informational_field_of_the_wrong_type_is_a_400(http, field, bad):
    err = error_of(http.post('chat/completions', json={**BASE['chat'], field: bad}), 400)
    assert err['param'] == field and err['code'] == 'invalid_value'


@pytest.mark.parametrize('route', ROUTES)
def test_unknown_field_is_unknown_parameter(http, route):
    path = ROUTES[route][0]
    err = error_of(http.post(path, json={**BASE[route], 'frobnicate': 1}), 400)
    assert err['param'] == 'frobnicate' and err['code'] == 'unknown_parameter'
    assert 'frobnicate' in err['message']
    # a field of the other route is unknown here
    other = {'chat': ('prompt', 'x'), 'completions': ('messages', [])}[route]
    err = error_of(http.post(path, json={**BASE[route], other[0]: other[1]}), 400)
    assert err['param'] == other[0] and err['code'] == 'unknown_parameter'
