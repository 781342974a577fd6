"""OnlineChatModule(source='claude') against a real Anthropic Messages API server on 127.0.0.1.

Every test asserts what went over the wire (``srv.requests``): headers, the exact JSON body,
and what the module made of the answer. No mocks.
"""
import asyncio
import base64
import json
import logging

import pytest

import lazyllm
from lazyllm.errors import (
    AuthenticationError,
    InputError,
    OnlineAPIError,
    RateLimitError,
    ServerError,
    StreamInterrupted,
)

Image = pytest.importorskip('PIL.Image')

MODEL = 'claude-echo'
TOOLS = [{'type': 'function', 'function': {
    'name': 'calc', 'description': 'Evaluate an arithmetic expression',
    'parameters': {'type': 'object', 'properties': {'text': {'type': 'string'}},
                   'required': ['text']}}}]


def png_file(path, size=(8, 6), color=(10, 200, 30)):
    """A real PNG written by PIL; returns its path."""
    Image.new('RGB', size, color).save(path, format='PNG')
    return path


def claude(srv, key, **kw):
    kw.setdefault('model', MODEL)
    return lazyllm.OnlineChatModule(source='claude', base_url=srv.url + '/v1/', api_key=key,
                                    **kw)


def last(srv):
    return srv.requests[-1]


# -- the request ---------------------------------------------------------------------------
def test_request_headers_and_body(anthropic_server, key):
    m = claude(anthropic_server, key, prompt='You are terse')
    assert m('hello world', history=[['q1', 'a1'], ['q2', 'a2']]) == 'hello world'
    req = last(anthropic_server)
    assert req.method == 'POST' and req.route == '/v1/messages'
    assert req.headers['x-api-key'] == key
    assert req.headers['anthropic-version'] == '2023-06-01'
    assert 'authorization' not in req.headers
    assert req.json == {
        'model': MODEL, 'max_tokens': 4096, 'system': 'You are terse',
        'messages': [{'role': 'user', 'content': 'q1'}, {'role': 'assistant', 'content': 'a1'},
                     {'role': 'user', 'content': 'q2'}, {'role': 'assistant', 'content': 'a2'},
                     {'role': 'user', 'content': 'hello world'}]}


def test_max_tokens_default_comes_from_the_supplier_table(anthropic_server, key):
    assert lazyllm.online.get_supplier('claude').chat_defaults['max_tokens'] == 4096
    m = claude(anthropic_server, key, max_tokens=7)
    m('one')
    assert last(anthropic_server).json['max_tokens'] == 7       # the module's default wins
    m('one two three', max_tokens=2, stop='x')                   # and a per-call value wins
    body = last(anthropic_server).json
    assert body['max_tokens'] == 2
    assert body['stop_sequences'] == ['x'] and 'stop' not in body
    assert m.chat('one two three', max_tokens=2).finish_reason == 'length'


def test_stop_list_and_sampling_parameters(anthropic_server, key):
    claude(anthropic_server, key, temperature=0.2)('hi', stop=['a', 'b'], top_k=5)
    body = last(anthropic_server).json
    assert body['stop_sequences'] == ['a', 'b']
    assert body['temperature'] == 0.2 and body['top_k'] == 5


def test_unsupported_parameter_fails_before_any_request(anthropic_server, key):
    m = claude(anthropic_server, key)
    with pytest.raises(InputError, match='presence_penalty'):
        m('hi', presence_penalty=0.1)
    with pytest.raises(InputError, match='presence_penalty'):
        list(m.stream('hi', presence_penalty=0.1))
    assert anthropic_server.count() == 0


def test_key_from_the_environment(anthropic_server, key, monkeypatch):
    monkeypatch.setenv('LAZYLLM_CLAUDE_API_KEY', key)
    m = lazyllm.OnlineChatModule(source='claude', base_url=anthropic_server.url + '/v1/',
                                 model=MODEL)
    assert m('from env') == 'from env'
    assert last(anthropic_server).headers['x-api-key'] == key
    assert 'authorization' not in last(anthropic_server).headers


def test_claude_without_model_uses_the_supplier_default(anthropic_server, key):
    m = lazyllm.OnlineChatModule(source='claude', base_url=anthropic_server.url + '/v1/',
                                 api_key=key)
    assert m.model == 'claude-sonnet-4-5'       # the Messages API always names a model
    m('hi')
    assert last(anthropic_server).json['model'] == 'claude-sonnet-4-5'


# -- the answer ----------------------------------------------------------------------------
def test_thinking_is_kept_apart_from_the_answer(anthropic_server, key):
    m = claude(anthropic_server, key, model='claude-think-1')
    result = m.chat('why is the sky blue')
    assert result.content == 'why is the sky blue'
    assert result.reasoning_content == 'Thinking about: why is the sky blue'
    assert result.finish_reason == 'stop' and result.model == 'claude-think-1'
    assert m('why is the sky blue') == 'why is the sky blue'


def test_usage_is_recorded(anthropic_server, key):
    m = claude(anthropic_server, key, prompt='be brief')
    m('one two three')
    # input_tokens: words of system + messages (2 + 3); output_tokens: words answered (3)
    assert m.usage == {'requests': 1, 'prompt_tokens': 5, 'completion_tokens': 3,
                       'total_tokens': 8}
    m('four')
    assert m.usage == {'requests': 2, 'prompt_tokens': 8, 'completion_tokens': 4,
                       'total_tokens': 12}


def test_acall(anthropic_server, key):
    m = claude(anthropic_server, key)
    assert asyncio.run(m.acall('async hello')) == 'async hello'
    assert m.usage['requests'] == 1


# -- streaming -----------------------------------------------------------------------------
def test_stream_equals_the_whole_answer(anthropic_server, key):
    plain = claude(anthropic_server, key)
    whole = plain('the quick brown fox')
    streamed = claude(anthropic_server, key, stream=True)
    assert streamed('the quick brown fox') == whole
    assert last(anthropic_server).json['stream'] is True
    chunks = list(plain.stream('the quick brown fox'))
    assert len(chunks) == 4 and ''.join(chunks) == whole
    for m in (plain, streamed):   # usage of streams comes from message_start + message_delta
        assert m.usage['completion_tokens'] == 4 * m.usage['requests']
        assert m.usage['prompt_tokens'] == 4 * m.usage['requests']


def test_stream_chat_deltas_carry_reasoning_apart(anthropic_server, key):
    m = claude(anthropic_server, key, model='claude-think-1')
    deltas = list(m.stream_chat('red sky'))
    assert ''.join(d.content for d in deltas) == 'red sky'
    assert ''.join(d.reasoning_content for d in deltas) == 'Thinking about: red sky'
    assert not any(d.content and d.reasoning_content for d in deltas)
    assert deltas[-1].finish_reason == 'stop'
    assert deltas[-1].usage == {'prompt_tokens': 2, 'completion_tokens': 2, 'total_tokens': 4}
    assert list(m.stream('red sky')) == ['red ', 'sky']   # reasoning never reaches the text


# -- tools ---------------------------------------------------------------------------------
@pytest.mark.parametrize('stream', [False, True], ids=['whole', 'streamed'])
def test_tool_round_trip(anthropic_server, key, stream):
    m = claude(anthropic_server, key, stream=stream)
    call = m('what is 6*7', tools=TOOLS)
    assert call == {'role': 'assistant', 'content': None, 'tool_calls': [{
        'id': 'toolu_1', 'type': 'function',
        'function': {'name': 'calc', 'arguments': json.dumps({'text': 'what is 6*7'})}}]}
    assert json.loads(call['tool_calls'][0]['function']['arguments']) == {'text': 'what is 6*7'}
    sent = last(anthropic_server).json
    assert sent['tools'] == [{'name': 'calc', 'description': 'Evaluate an arithmetic expression',
                              'input_schema': TOOLS[0]['function']['parameters']}]
    assert sent.get('stream', False) is stream

    history = [{'role': 'user', 'content': 'what is 6*7'}, call,
               {'role': 'tool', 'tool_call_id': 'toolu_1', 'content': '42'}]
    assert m('go on', tools=TOOLS, history=history) == 'tool said: 42'
    turns = last(anthropic_server).json['messages']
    assert [t['role'] for t in turns] == ['user', 'assistant', 'user']
    assert turns[1]['content'] == [{'type': 'tool_use', 'id': 'toolu_1', 'name': 'calc',
                                    'input': {'text': 'what is 6*7'}}]
    assert turns[2]['content'][0] == {'type': 'tool_result', 'tool_use_id': 'toolu_1',
                                      'content': '42'}


def test_streamed_tool_call_fragments(anthropic_server, key):
    m = claude(anthropic_server, key)
    deltas = list(m.stream_chat('what is 6*7', tools=TOOLS))
    fragments = [f for d in deltas for f in d.tool_calls]
    assert fragments[0]['id'] == 'toolu_1' and fragments[0]['function']['name'] == 'calc'
    args = ''.join(f['function']['arguments'] for f in fragments)
    assert json.loads(args) == {'text': 'what is 6*7'} and len(fragments) == 3
    assert deltas[-1].finish_reason == 'tool_calls'


# -- images --------------------------------------------------------------------------------
def test_images_become_image_blocks(anthropic_server, key, tmp_path):
    path = png_file(tmp_path / 'green.png')
    raw = png_file(tmp_path / 'blue.png', color=(0, 0, 255)).read_bytes()
    url = anthropic_server.publish('cat.png', raw)
    m = claude(anthropic_server, key, type='vlm')
    assert m('describe', lazyllm_files=[str(path), raw, url]) == 'describe [images: 3]'
    content = last(anthropic_server).json['messages'][-1]['content']
    assert content[0] == {'type': 'text', 'text': 'describe'}
    blocks = content[1:]
    assert [b['type'] for b in blocks] == ['image'] * 3
    for block, data in zip(blocks[:2], (path.read_bytes(), raw)):
        assert block['source']['type'] == 'base64'
        assert block['source']['media_type'] == 'image/png'
        assert base64.b64decode(block['source']['data']) == data
    assert blocks[2] == {'type': 'image', 'source': {'type': 'url', 'url': url}}


def test_not_an_image_fails_before_any_request(anthropic_server, key):
    with pytest.raises(InputError, match='image #0'):
        claude(anthropic_server, key)('describe', lazyllm_files=[b'%PDF-1.4 not an image'])
    assert anthropic_server.count() == 0


# -- errors --------------------------------------------------------------------------------
def test_wrong_key_names_the_variable_but_not_the_key(anthropic_server, key):
    wrong = 'sk-wrong-claude-key-42424242'
    m = claude(anthropic_server, wrong)
    with pytest.raises(AuthenticationError) as info:
        m('hi')
    text = str(info.value)
    assert 'LAZYLLM_CLAUDE_API_KEY' in text
    assert wrong not in text and key not in text
    assert wrong not in repr(info.value) and wrong not in str(info.value.body)
    assert anthropic_server.count() == 1                          # 401 is not retried


def test_rate_limit_is_retried(anthropic_server, key):
    anthropic_server.fail(429, retry_after=0)
    m = claude(anthropic_server, key)
    assert m('after the wait') == 'after the wait'
    assert anthropic_server.count('/v1/messages') == 2


def test_rate_limit_without_retries(anthropic_server, key):
    anthropic_server.fail(429, retry_after=0)
    with pytest.raises(RateLimitError, match='rate limit'):
        claude(anthropic_server, key, max_retries=0)('hi')


def test_overloaded_raises_server_error_after_retries(anthropic_server, key):
    anthropic_server.fail(529, times=None)
    m = claude(anthropic_server, key, max_retries=1)
    with pytest.raises(ServerError, match='Overloaded') as info:
        m('hi')
    assert info.value.status == 529
    assert anthropic_server.count('/v1/messages') == 2


def test_error_event_mid_stream(anthropic_server, key):
    anthropic_server.error_event(after=1)
    m = claude(anthropic_server, key, stream=True)
    with pytest.raises(OnlineAPIError, match='Overloaded'):
        m('one two three')
    assert anthropic_server.count() == 1                          # output began: no retry


def test_cut_stream_keeps_what_was_received(anthropic_server, key):
    anthropic_server.cut_stream(after=2)
    m = claude(anthropic_server, key)
    got = []
    with pytest.raises(StreamInterrupted) as info:
        for chunk in m.stream('one two three four'):
            got.append(chunk)
    assert info.value.received == 'one two ' == ''.join(got)


def test_key_never_shown(anthropic_server, key, caplog):
    caplog.set_level(logging.DEBUG)                 # every logger, httpx included
    caplog.set_level(logging.DEBUG, logger='lazyllm')
    m = claude(anthropic_server, key)
    assert key not in repr(m) and 'api_key=***' in repr(m)
    m('hello')
    list(m.stream('hello'))
    anthropic_server.fail(500, times=None, body={'type': 'error', 'error': {
        'type': 'api_error', 'message': f'bad key {key}'}})      # a server echoing the key
    with pytest.raises(ServerError) as info:
        claude(anthropic_server, key, max_retries=0)('hi')
    assert key not in str(info.value) and key not in str(info.value.body)
    bad = 'sk-another-wrong-key-31415926'
    with pytest.raises(AuthenticationError) as info:
        claude(anthropic_server, bad)('hi')
    assert bad not in str(info.value)
    for record in caplog.records:
        assert key not in record.getMessage() and bad not in record.getMessage()
