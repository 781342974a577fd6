"""OnlineChatModule over the OpenAI protocol, against a real server on 127.0.0.1."""
from __future__ import annotations

import asyncio
import base64
import io
import logging

import pytest

import lazyllm
from lazyllm.errors import AuthenticationError, InputError, RateLimitError
from tests.servers.openai_server import OpenAIServer

TOOL = {'type': 'function', 'function': {'name': 'lookup', 'description': 'find a fact',
                                         'parameters': {'type': 'object', 'properties': {
                                             'text': {'type': 'string'}}}}}


@pytest.fixture
def chat(openai_server, key):
    return lazyllm.OnlineChatModule(source='openai', model='gpt-test',
                                    base_url=openai_server.base_url, api_key=key)


def _last(srv):
    return srv.requests[-1]


def test_the_prompt_is_exactly_what_the_user_gives(chat, openai_server, key):
    assert chat('hello world') == 'hello world'
    req = _last(openai_server)
    assert req.path == '/v1/chat/completions'
    assert req.json == {'model': 'gpt-test', 'messages': [{'role': 'user',
                                                           'content': 'hello world'}]}
    assert req.headers['authorization'] == f'Bearer {key}'


def test_stream_is_a_flag_and_asks_for_usage(openai_server, key):
    m = lazyllm.OnlineChatModule(source='openai', model='gpt-test', stream=True,
                                 base_url=openai_server.base_url, api_key=key)
    chunks = []
    with lazyllm.listen_stream(lambda chunk, module: chunks.append(chunk)):
        assert m('one two three') == 'one two three'
    assert len(chunks) == 3
    body = _last(openai_server).json
    assert body['stream'] is True and body['stream_options'] == {'include_usage': True}
    assert m.usage == {'requests': 1, 'prompt_tokens': 3, 'completion_tokens': 3,
                       'total_tokens': 6}
    assert ''.join(m.stream('a b')) == 'a b'
    assert m.usage['requests'] == 2


def test_per_call_model_url_and_sampling_override(chat, openai_server, key):
    with OpenAIServer(api_key=key) as other:
        chat('hi', model='other-model', url=other.url + '/v1', temperature=0.5, max_tokens=3)
        body = other.requests[-1].json
    assert openai_server.count() == 0
    assert body['model'] == 'other-model'
    assert body['temperature'] == 0.5 and body['max_tokens'] == 3


def test_static_params_and_sampling_defaults_reach_every_call(openai_server, key):
    m = lazyllm.OnlineChatModule(source='openai', model='gpt-test', api_key=key,
                                 base_url=openai_server.base_url, temperature=0.1,
                                 static_params={'user': 'u-1', 'seed': 7})
    m('a')
    body = _last(openai_server).json
    assert (body['temperature'], body['user'], body['seed']) == (0.1, 'u-1', 7)
    m('a', temperature=0.9)                      # a call's own value wins
    assert _last(openai_server).json['temperature'] == 0.9


def test_shares_keep_their_own_prompt_and_history(chat, openai_server):
    terse = chat.share(prompt='Be terse.', history=[['q0', 'a0']], temperature=0)
    terse('q1')
    msgs = _last(openai_server).json['messages']
    assert msgs[0] == {'role': 'system', 'content': 'Be terse.'}
    assert msgs[1:] == [{'role': 'user', 'content': 'q0'}, {'role': 'assistant', 'content': 'a0'},
                        {'role': 'user', 'content': 'q1'}]
    chat('q2')
    assert _last(openai_server).json['messages'] == [{'role': 'user', 'content': 'q2'}]
    assert terse.usage['requests'] == 2            # one counter for a module and its shares


def test_tools_round_trip(chat, openai_server):
    call = chat('weather in Paris', tools=[TOOL])
    assert call['role'] == 'assistant' and call['tool_calls'][0]['function']['name'] == 'lookup'
    result = {'role': 'tool', 'tool_call_id': call['tool_calls'][0]['id'], 'content': 'sunny'}
    history = [{'role': 'user', 'content': 'weather in Paris'}, call, result]
    chat('and now?', history=history)
    sent = _last(openai_server).json['messages']
    assert sent[1]['tool_calls'] == call['tool_calls']
    assert sent[2] == {'role': 'tool', 'tool_call_id': call['tool_calls'][0]['id'],
                       'content': 'sunny'}


def test_a_history_ending_with_tool_results_needs_no_new_prompt(chat, openai_server):
    question = {'role': 'user', 'content': 'weather in Paris'}
    call = chat(question['content'], tools=[TOOL])
    result = {'role': 'tool', 'tool_call_id': call['tool_calls'][0]['id'], 'content': 'sunny'}
    chat(history=[question, call, result], tools=[TOOL])
    assert _last(openai_server).json['messages'][-1] == result
    with pytest.raises(InputError, match='the prompt is empty'):
        chat(history=[question])


def test_streamed_tool_calls_end_the_stream_as_one_message(chat, openai_server):
    chunks = list(chat.stream('weather', tools=[TOOL]))
    assert chunks[-1]['tool_calls'][0]['function']['arguments'] == '{"text": "weather"}'


def test_reasoning_is_kept_apart_from_the_answer(openai_server, key):
    m = lazyllm.OnlineChatModule(source='openai', model='reason-1', api_key=key,
                                 base_url=openai_server.base_url)
    assert m('why') == 'why'
    result = m.chat('why')
    assert (result.content, result.reasoning_content) == ('why', 'Thinking about: why')
    deltas = list(m.stream_chat('why not'))
    assert ''.join(d.reasoning_content for d in deltas) == 'Thinking about: why not'
    assert ''.join(d.content for d in deltas) == 'why not'


def _png_bytes(color='red'):
    from PIL import Image
    buf = io.BytesIO()
    Image.new('RGB', (4, 3), color).save(buf, format='PNG')
    return buf.getvalue()


def test_images_of_every_kind_become_image_url_parts(chat, openai_server, tmp_path):
    from PIL import Image
    path = tmp_path / 'cat.png'
    path.write_bytes(_png_bytes('blue'))
    files = [str(path), _png_bytes(), Image.new('RGB', (2, 2), 'green'),
             'https://example.com/dog.jpg']
    chat('describe', lazyllm_files=files)
    content = _last(openai_server).json['messages'][-1]['content']
    assert content[0] == {'type': 'text', 'text': 'describe'}
    urls = [p['image_url']['url'] for p in content[1:]]
    assert base64.b64decode(urls[0].split(',', 1)[1]) == path.read_bytes()
    assert urls[1].startswith('data:image/png;base64,')
    decoded = Image.open(io.BytesIO(base64.b64decode(urls[2].split(',', 1)[1])))
    assert decoded.size == (2, 2)
    assert urls[3] == 'https://example.com/dog.jpg'


def test_a_bad_image_fails_before_any_request(chat, openai_server):
    with pytest.raises(InputError, match='PDF'):
        chat('describe', lazyllm_files=[b'%PDF-1.4 not an image'])
    assert openai_server.count() == 0


def test_a_rejected_key_names_the_variable_and_never_the_key(openai_server, caplog):
    caplog.set_level(logging.DEBUG, logger='lazyllm')
    wrong = 'sk-wrong-key-abcdef123456'
    m = lazyllm.OnlineChatModule(source='openai', model='gpt-test', api_key=wrong,
                                 base_url=openai_server.base_url)
    with pytest.raises(AuthenticationError) as e:
        m('hi')
    assert 'LAZYLLM_OPENAI_API_KEY' in str(e.value)
    assert wrong not in str(e.value) and wrong not in repr(e.value)
    assert wrong not in caplog.text and wrong not in repr(m)


def test_429_is_retried_then_answers(chat, openai_server):
    openai_server.fail(429, retry_after=0)
    assert chat('again') == 'again'
    assert openai_server.count('/chat/completions') == 2


def test_429_past_max_retries_is_a_rate_limit_error(openai_server, key):
    m = lazyllm.OnlineChatModule(source='openai', model='gpt-test', api_key=key,
                                 base_url=openai_server.base_url, max_retries=1)
    openai_server.fail(429, retry_after=0, times=2)
    with pytest.raises(RateLimitError):
        m('hi')


def test_async_call_and_stream(chat):
    async def main():
        answer = await chat.acall('async hello')
        chunks = [c async for c in chat.astream('a b c')]
        return answer, chunks
    answer, chunks = asyncio.run(main())
    assert answer == 'async hello' and ''.join(chunks) == 'a b c'
    assert chat.usage['requests'] == 2


def test_a_formatter_applies_to_the_answer(chat):
    upper = chat | str.upper
    assert upper('shout') == 'SHOUT'


def test_in_a_pipeline(chat):
    ppl = lazyllm.pipeline(chat, lambda s: s + '!')
    assert ppl('hello') == 'hello!'
