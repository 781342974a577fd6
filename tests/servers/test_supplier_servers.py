"""Self-test of the supplier test servers (OpenAI additions, Anthropic, DashScope) over real
sockets with plain ``httpx``: status codes, bodies, SSE framing, multipart parsing, faults."""
from __future__ import annotations

import base64
import io
import json
import wave

import httpx
import pytest

from tests.servers.anthropic_server import AnthropicServer, anthropic_error
from tests.servers.dashscope_server import DashScopeServer
from tests.servers.openai_answers import rerank_score, speech_bytes, tiny_png
from tests.servers.openai_server import OpenAIServer
from tests.support import threads

KEY = 'sk-test-key'


no_leftover_server_threads = pytest.fixture(autouse=True)(threads.no_leftover_server_threads)


def sse(text: str) -> list[tuple[str | None, dict]]:
    """(event type, data) of an Anthropic-style SSE body."""
    out = []
    for block in text.split('\n\n'):
        if not block.strip():
            continue
        fields = dict(line.split(': ', 1) for line in block.split('\n'))
        out.append((fields.get('event'), json.loads(fields['data'])))
    return out


# -- OpenAI additions ----------------------------------------------------------------------
def test_openai_transcription_multipart_and_auth():
    with OpenAIServer(api_key=KEY) as srv, httpx.Client(base_url=srv.base_url) as c:
        audio = b'RIFF\r\n\x00\xff--binary\r\n'
        auth = {'Authorization': f'Bearer {KEY}'}
        r = c.post('audio/transcriptions', headers=auth, files={'file': ('a.wav', audio,
                                                                         'audio/wav')},
                   data={'model': 'whisper-1', 'language': 'en'})
        assert r.status_code == 200 and r.json() == {'text': f'heard {len(audio)} bytes of a.wav'}
        rec = srv.requests[-1]
        assert rec.files == {'file': ('a.wav', 'audio/wav', audio)}
        assert rec.form == {'model': 'whisper-1', 'language': 'en'}
        r = c.post('audio/transcriptions', headers=auth, files={'file': ('b.mp3', b'xyz')},
                   data={'response_format': 'text'})
        assert r.headers['content-type'].startswith('text/plain')
        assert r.text == 'heard 3 bytes of b.mp3'
        r = c.post('audio/transcriptions', headers=auth, data={'model': 'whisper-1'},
                   files={'other': ('x', b'1')})
        assert r.status_code == 400 and r.json()['error']['param'] == 'file'
        assert c.post('audio/transcriptions', files={'file': ('a', b'1')}).status_code == 401


def test_openai_speech_and_images():
    with OpenAIServer() as srv, httpx.Client(base_url=srv.base_url) as c:
        r = c.post('audio/speech', json={'model': 'tts-1', 'input': 'hi there', 'voice': 'x'})
        assert r.headers['content-type'] == 'audio/mpeg'
        assert r.content == speech_bytes('hi there') and r.content.startswith(b'ID3')
        r = c.post('audio/speech', json={'model': 'tts-1', 'input': 'hi', 'voice': 'x',
                                         'response_format': 'wav'})
        assert r.headers['content-type'] == 'audio/wav'
        with wave.open(io.BytesIO(r.content)) as w:
            assert w.getnframes() == 16 and w.getsampwidth() == 2
        r = c.post('images/generations', json={'prompt': 'a cat', 'n': 2,
                                               'response_format': 'b64_json'})
        data = r.json()['data']
        assert len(data) == 2 and base64.b64decode(data[0]['b64_json']) == tiny_png()
        assert tiny_png().startswith(b'\x89PNG\r\n\x1a\n')
        r = c.post('images/generations', json={'prompt': 'a cat', 'response_format': 'url'})
        url = r.json()['data'][0]['url']
        assert url == f'{srv.url}/files/img-1.png'
        img = httpx.get(url)
        assert img.status_code == 200 and img.content == tiny_png()
        assert img.headers['content-type'] == 'image/png'
        assert httpx.get(f'{srv.url}/files/nope.png').status_code == 404


# -- Anthropic -----------------------------------------------------------------------------
def anthropic(srv: AnthropicServer) -> httpx.Client:
    return httpx.Client(base_url=srv.url, headers={'x-api-key': KEY,
                                                   'anthropic-version': '2023-06-01'})


def test_anthropic_auth_and_validation():
    with AnthropicServer(api_key=KEY) as srv, anthropic(srv) as c:
        body = {'model': 'claude-x', 'max_tokens': 10,
                'messages': [{'role': 'user', 'content': 'hi'}]}
        r = c.post('/v1/messages', json=body, headers={'x-api-key': 'bad'})
        assert r.status_code == 401
        assert r.json() == anthropic_error('authentication_error', 'invalid x-api-key')
        r = httpx.post(srv.url + '/v1/messages', json=body, headers={'x-api-key': KEY})
        assert r.status_code == 400 and r.json()['error']['type'] == 'invalid_request_error'
        for bad in ({k: v for k, v in body.items() if k != 'max_tokens'},
                    dict(body, messages=[{'role': 'system', 'content': 's'}] + body['messages'])):
            r = c.post('/v1/messages', json=bad)
            assert r.status_code == 400 and r.json()['type'] == 'error'
        assert c.post('/v1/messages', json=body).status_code == 200


def test_anthropic_answers():
    with AnthropicServer() as srv, anthropic(srv) as c:
        img = {'type': 'image', 'source': {'type': 'base64', 'media_type': 'image/png',
                                           'data': 'AAAA'}}
        r = c.post('/v1/messages', json={
            'model': 'claude-think', 'max_tokens': 3, 'system': 'be brief',
            'messages': [{'role': 'user', 'content': [{'type': 'text', 'text': 'look at'}, img]}]})
        msg = r.json()
        assert msg['type'] == 'message' and msg['stop_reason'] == 'max_tokens'
        assert msg['content'][0] == {'type': 'thinking', 'signature': 'sig',
                                     'thinking': 'Thinking about: look at [images: 1]'}
        assert msg['content'][1] == {'type': 'text', 'text': 'look at [images: '}
        assert msg['usage'] == {'input_tokens': 4, 'output_tokens': 3}
        tools = [{'name': 'echo', 'description': 'd', 'input_schema': {'type': 'object'}}]
        r = c.post('/v1/messages', json={'model': 'c', 'max_tokens': 50, 'tools': tools,
                                         'messages': [{'role': 'user', 'content': 'do it'}]})
        assert r.json()['stop_reason'] == 'tool_use'
        assert r.json()['content'] == [{'type': 'tool_use', 'id': 'toolu_1', 'name': 'echo',
                                        'input': {'text': 'do it'}}]
        r = c.post('/v1/messages', json={'model': 'c', 'max_tokens': 50, 'tools': tools,
                                         'messages': [{'role': 'user', 'content': [
                                             {'type': 'tool_result', 'tool_use_id': 'toolu_1',
                                              'content': 'done'}]}]})
        assert r.json()['content'] == [{'type': 'text', 'text': 'tool said: done'}]


def test_anthropic_stream_and_faults():
    with AnthropicServer() as srv, anthropic(srv) as c:
        tools = [{'name': 'echo', 'input_schema': {'type': 'object'}}]
        body = {'model': 'claude-think', 'max_tokens': 50, 'stream': True, 'tools': tools,
                'messages': [{'role': 'user', 'content': 'one two'}]}
        r = c.post('/v1/messages', json=body)
        assert r.headers['content-type'] == 'text/event-stream' and '[DONE]' not in r.text
        events = sse(r.text)
        assert [e for e, _ in events[:2]] == ['message_start', 'ping']
        assert events[0][1]['message']['content'] == []
        assert events[-2][1]['delta']['stop_reason'] == 'tool_use'
        assert events[-1][0] == 'message_stop'
        assert all(e == d['type'] for e, d in events)
        parts = [d['delta']['partial_json'] for _, d in events
                 if d.get('delta', {}).get('type') == 'input_json_delta']
        assert len(parts) == 2 and json.loads(''.join(parts)) == {'text': 'one two'}
        body = dict(body, model='c', tools=None)
        srv.error_event(after=1)
        events = sse(c.post('/v1/messages', json=body).text)
        assert events[-1] == ('error', anthropic_error('overloaded_error', 'Overloaded'))
        assert [d['delta']['text'] for e, d in events if e == 'content_block_delta'] == ['one ']
        srv.fail(529)
        r = c.post('/v1/messages', json=body)
        assert r.status_code == 529 and r.json()['error']['type'] == 'overloaded_error'
        srv.fail(429, body=anthropic_error('rate_limit_error', 'slow down'), retry_after=1)
        r = c.post('/v1/messages', json=body)
        assert r.status_code == 429 and r.headers['retry-after'] == '1'
        assert r.json()['error']['message'] == 'slow down'
        srv.cut_stream(after=1)
        with pytest.raises(httpx.HTTPError):
            c.post('/v1/messages', json=body)


# -- DashScope -----------------------------------------------------------------------------
def dashscope(srv: DashScopeServer) -> httpx.Client:
    return httpx.Client(base_url=srv.url, headers={'Authorization': f'Bearer {KEY}'})


def ds_events(text: str) -> list[dict]:
    out = []
    for block in text.strip().split('\n\n'):
        lines = block.split('\n')
        assert lines[0].startswith('id:') and lines[1] == 'event:result'
        assert lines[2] == ':HTTP_STATUS/200' and lines[3].startswith('data:')
        out.append(json.loads(lines[3][5:]))
    return out


def test_dashscope_auth_and_compatible_mode():
    with DashScopeServer(api_key=KEY) as srv, dashscope(srv) as c:
        assert srv.compatible_url.endswith('/compatible-mode/v1/')
        assert srv.native_url.endswith('/api/v1/')
        r = httpx.post(srv.compatible_url + 'chat/completions', json={})
        assert r.status_code == 401 and r.json()['error']['code'] == 'invalid_api_key'
        r = httpx.post(srv.native_url + 'services/aigc/text-generation/generation', json={})
        assert r.status_code == 401 and r.json()['code'] == 'InvalidApiKey'
        r = c.post('/compatible-mode/v1/embeddings', json={'model': 'text-embedding-v4',
                                                           'input': [str(i) for i in range(11)]})
        assert r.status_code == 400 and r.json()['error']['type'] == 'InvalidParameter'
        r = c.post('/compatible-mode/v1/embeddings', json={'model': 'text-embedding-v4',
                                                           'input': ['a', 'b']})
        assert len(r.json()['data']) == 2
        chat = {'model': 'qwen3-8b', 'enable_thinking': True,
                'messages': [{'role': 'user', 'content': 'hi you'}]}
        assert c.post('/compatible-mode/v1/chat/completions', json=chat).status_code == 400
        r = c.post('/compatible-mode/v1/chat/completions', json=dict(chat, stream=True))
        chunks = [json.loads(line[6:]) for line in r.text.split('\n\n')
                  if line.startswith('data: {')]
        deltas = [ch['choices'][0]['delta'] for ch in chunks if ch['choices']]
        assert ''.join(d.get('reasoning_content', '') for d in deltas) == 'Thinking about: hi you'
        assert ''.join(d.get('content') or '' for d in deltas) == 'hi you'
        assert r.text.endswith('data: [DONE]\n\n')
        srv.fail(429)
        r = c.post('/api/v1/services/aigc/text-generation/generation', json={})
        assert r.status_code == 429 and r.json()['code'] == 'Throttling.RateQuota'


def test_dashscope_rerank_and_generation():
    with DashScopeServer() as srv, dashscope(srv) as c:
        docs = ['red apple', 'green apple tree', 'car']
        r = c.post('/api/v1/services/rerank/text-rerank/text-rerank', json={
            'model': 'gte-rerank', 'input': {'query': 'apple tree', 'documents': docs},
            'parameters': {'top_n': 2, 'return_documents': True}})
        results = r.json()['output']['results']
        assert results[0] == {'index': 1, 'relevance_score': 1.0,
                              'document': {'text': 'green apple tree'}}
        assert results[1]['relevance_score'] == rerank_score('apple tree', 'red apple')
        assert len(results) == 2 and r.json()['usage']['total_tokens'] == 8
        r = c.post('/api/v1/services/rerank/text-rerank/text-rerank', json={
            'model': 'gte-rerank', 'input': {'documents': docs}})
        assert r.status_code == 400 and r.json()['code'] == 'InvalidParameter'
        path = '/api/v1/services/aigc/text-generation/generation'
        body = {'model': 'qwen-plus', 'input': {'messages': [
            {'role': 'user', 'content': 'a b c'}]}, 'parameters': {'result_format': 'message'}}
        r = c.post(path, json=body)
        choice = r.json()['output']['choices'][0]
        assert choice == {'finish_reason': 'stop', 'message': {'role': 'assistant',
                                                               'content': 'a b c'}}
        sse_header = {'X-DashScope-SSE': 'enable'}
        texts = [e['output']['choices'][0]['message']['content']
                 for e in ds_events(c.post(path, json=body, headers=sse_header).text)]
        assert texts == ['a ', 'a b ', 'a b c']
        body['parameters']['incremental_output'] = True
        events = ds_events(c.post(path, json=body, headers=sse_header).text)
        assert [e['output']['choices'][0]['message']['content'] for e in events] == \
            ['a ', 'b ', 'c']
        assert [e['output']['choices'][0]['finish_reason'] for e in events] == \
            ['null', 'null', 'stop']


def test_dashscope_upload_and_multimodal():
    with DashScopeServer(api_key=KEY) as srv, dashscope(srv) as c:
        r = c.get('/api/v1/uploads', params={'action': 'getPolicy', 'model': 'qwen-audio'})
        p = r.json()['data']
        assert p['upload_host'] == srv.url + '/oss'
        key = p['upload_dir'] + '/voice.wav'
        fields = {'OSSAccessKeyId': p['oss_access_key_id'], 'Signature': p['signature'],
                  'policy': p['policy'], 'key': key, 'x-oss-object-acl': p['x_oss_object_acl'],
                  'x-oss-forbid-overwrite': p['x_oss_forbid_overwrite'],
                  'success_action_status': '200'}
        audio = b'\x00\x01RIFF\r\n'
        r = httpx.post(p['upload_host'], data=fields, files={'file': ('voice.wav', audio)})
        assert r.status_code == 200 and r.content == b''
        assert srv.uploads[key][2] == audio
        r = httpx.post(p['upload_host'], data=dict(fields, Signature='x'),
                       files={'file': ('voice.wav', audio)})
        assert r.status_code == 403 and b'<Code>AccessDenied</Code>' in r.content
        path = '/api/v1/services/aigc/multimodal-generation/generation'
        body = {'model': 'qwen-audio-turbo', 'input': {'messages': [{'role': 'user', 'content': [
            {'audio': f'oss://{key}'}, {'text': 'transcribe'}]}]}}
        assert c.post(path, json=body).status_code == 400
        r = c.post(path, json=body, headers={'X-DashScope-OssResourceResolve': 'enable'})
        content = r.json()['output']['choices'][0]['message']['content']
        assert content == [{'text': f'heard {len(audio)} bytes of voice.wav'}]


def test_dashscope_image_task():
    with DashScopeServer() as srv, dashscope(srv) as c:
        path = '/api/v1/services/aigc/text2image/image-synthesis'
        body = {'model': 'wanx2.1-t2i-turbo', 'input': {'prompt': 'a cat'},
                'parameters': {'n': 2}}
        r = c.post(path, json=body)
        assert r.status_code == 403 and r.json()['code'] == 'AccessDenied'
        r = c.post(path, json=body, headers={'X-DashScope-Async': 'enable'})
        task = r.json()['output']
        assert task['task_status'] == 'PENDING'
        polls = [c.get(f'/api/v1/tasks/{task["task_id"]}').json() for _ in range(3)]
        assert [p['output']['task_status'] for p in polls] == ['PENDING', 'RUNNING',
                                                               'SUCCEEDED']
        assert polls[-1]['usage'] == {'image_count': 2}
        url = polls[-1]['output']['results'][0]['url']
        assert httpx.get(url).content == tiny_png()
        srv.task_fails = True
        tid = c.post(path, json=body, headers={'X-DashScope-Async': 'enable'}
                     ).json()['output']['task_id']
        last = [c.get(f'/api/v1/tasks/{tid}').json() for _ in range(3)][-1]['output']
        assert last['task_status'] == 'FAILED' and last['code'] == 'DataInspectionFailed'
