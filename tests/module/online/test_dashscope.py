"""source='qwen' (Alibaba Cloud Model Studio / DashScope) against a real DashScope server on
127.0.0.1: chat and embeddings in compatible mode, rerank, cross-modal embeddings,
speech-to-text (upload to temporary storage) and image synthesis (an async task) on the
native API. Every test asserts what went over the wire (``srv.requests``). No mocks.
"""
import base64
import io
import wave

import pytest

import lazyllm
from lazyllm.client import Client
from lazyllm.errors import AuthenticationError, InputError, OnlineAPIError
from tests.servers.dashscope_server import multimodal_vector
from tests.servers.openai_answers import embed_vector, rerank_score, tiny_png

Image = pytest.importorskip('PIL.Image')

COMPAT = '/compatible-mode/v1/'
NATIVE = '/api/v1/'
RERANK = NATIVE + 'services/rerank/text-rerank/text-rerank'
MM_EMBED = NATIVE + 'services/embeddings/multimodal-embedding/multimodal-embedding'
GENERATION = NATIVE + 'services/aigc/multimodal-generation/generation'
SYNTHESIS = NATIVE + 'services/aigc/text2image/image-synthesis'


def wav_file(path, frames=400, rate=8000):
    """A real mono 16-bit WAV written with the stdlib ``wave`` module; returns its path."""
    with wave.open(str(path), 'wb') as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(range(256)) * (frames * 2 // 256) + b'\x00' * (frames * 2 % 256))
    return path


def png_bytes(size=(6, 4), color=(200, 30, 60)):
    buf = io.BytesIO()
    Image.new('RGB', size, color).save(buf, format='PNG')
    return buf.getvalue()


def qwen_chat(srv, key, **kw):
    return lazyllm.OnlineChatModule(source='qwen', base_url=srv.compatible_url, api_key=key, **kw)


def qwen_embed(srv, key, **kw):
    return lazyllm.OnlineEmbeddingModule(source='qwen', base_url=srv.compatible_url,
                                         api_key=key, **kw)


def qwen_media(srv, key, type, tmp_path=None, **kw):
    return lazyllm.OnlineMultiModalModule(source='qwen', type=type, base_url=srv.compatible_url,
                                          api_key=key, output_dir=tmp_path, **kw)


# -- chat (compatible mode) ----------------------------------------------------------------
def test_chat_in_compatible_mode(dashscope_server, key):
    m = qwen_chat(dashscope_server, key, model='qwen-plus')
    assert m('hello there', temperature=0) == 'hello there'
    req = dashscope_server.requests[-1]
    assert req.route == COMPAT + 'chat/completions'
    assert req.headers['authorization'] == f'Bearer {key}'
    assert req.json == {'model': 'qwen-plus', 'temperature': 0,
                        'messages': [{'role': 'user', 'content': 'hello there'}]}
    assert m.usage == {'requests': 1, 'prompt_tokens': 2, 'completion_tokens': 2,
                       'total_tokens': 4}


def test_key_from_the_environment(dashscope_server, key, monkeypatch):
    monkeypatch.setenv('LAZYLLM_QWEN_API_KEY', key)
    m = lazyllm.OnlineChatModule(source='qwen', base_url=dashscope_server.compatible_url)
    assert m('from env') == 'from env'
    assert dashscope_server.requests[-1].headers['authorization'] == f'Bearer {key}'


def test_stream_asks_for_usage(dashscope_server, key):
    m = qwen_chat(dashscope_server, key, model='qwen-plus', stream=True)
    assert m('one two three') == 'one two three'
    body = dashscope_server.requests[-1].json
    assert body['stream'] is True and body['stream_options'] == {'include_usage': True}
    assert m.usage == {'requests': 1, 'prompt_tokens': 3, 'completion_tokens': 3,
                       'total_tokens': 6}


def test_thinking_is_kept_out_of_the_answer(dashscope_server, key):
    m = qwen_chat(dashscope_server, key, model='qwen3-8b', stream=True, enable_thinking=True)
    assert m('why blue') == 'why blue'
    assert dashscope_server.requests[-1].json['enable_thinking'] is True
    deltas = list(m.stream_chat('why blue'))
    assert ''.join(d.reasoning_content for d in deltas) == 'Thinking about: why blue'
    assert ''.join(d.content for d in deltas) == 'why blue'
    assert list(m.stream('why blue')) == ['why ', 'blue']


def test_compatible_mode_rejects_a_wrong_key(dashscope_server, key):
    wrong = 'sk-wrong-qwen-key-27182818'
    with pytest.raises(AuthenticationError) as info:
        qwen_chat(dashscope_server, wrong)('hi')
    assert 'LAZYLLM_QWEN_API_KEY' in str(info.value)
    assert wrong not in str(info.value) and wrong not in str(info.value.body)


# -- embeddings (compatible mode) ----------------------------------------------------------
def test_embeddings_in_batches_of_ten_in_input_order(dashscope_server, key):
    texts = [f'text number {i}' for i in range(23)]
    m = qwen_embed(dashscope_server, key, model='text-embedding-v3')
    vectors = m(texts)
    assert vectors == [embed_vector(t, dashscope_server.embed_dim) for t in texts]
    sent = [r.json['input'] for r in dashscope_server.requests]
    assert [len(s) for s in sent] == [10, 10, 3]
    assert sum(sent, []) == texts
    assert all(r.route == COMPAT + 'embeddings' for r in dashscope_server.requests)
    assert all(r.json['model'] == 'text-embedding-v3' for r in dashscope_server.requests)
    assert m('one') == embed_vector('one', dashscope_server.embed_dim)


def test_batch_size_over_the_limit_is_the_servers_error(dashscope_server, key):
    m = qwen_embed(dashscope_server, key, model='text-embedding-v3', batch_size=25)
    with pytest.raises(OnlineAPIError, match='batch size is invalid') as info:
        m([f't{i}' for i in range(23)])
    assert info.value.status == 400
    assert dashscope_server.count() == 1                          # a 400 is not retried


# -- rerank (native) -----------------------------------------------------------------------
DOCS = ['the cat sat', 'a dog barked at the cat', 'nothing here', 'cat and dog']


def test_rerank_on_the_native_api(dashscope_server, key):
    m = qwen_embed(dashscope_server, key, type='rerank', model='gte-rerank-v2')
    expected = sorted(((i, rerank_score('cat dog', d)) for i, d in enumerate(DOCS)),
                      key=lambda p: (-p[1], p[0]))
    assert m('cat dog', documents=DOCS) == expected
    req = dashscope_server.requests[-1]
    assert req.route == RERANK
    assert req.headers['authorization'] == f'Bearer {key}'
    assert req.json == {'model': 'gte-rerank-v2',
                        'input': {'query': 'cat dog', 'documents': DOCS}, 'parameters': {}}
    assert m('cat dog', documents=DOCS, top_n=2) == expected[:2]
    assert dashscope_server.requests[-1].json['parameters'] == {'top_n': 2}


def test_rerank_rate_limit_is_retried(dashscope_server, key):
    dashscope_server.fail(429, retry_after=0, path='text-rerank')
    m = qwen_embed(dashscope_server, key, type='rerank', model='gte-rerank-v2')
    assert m('cat', documents=['cat', 'dog'], top_n=1) == [(0, 1.0)]
    assert dashscope_server.count(RERANK) == 2


def test_native_calls_without_model_use_the_supplier_default(dashscope_server, key):
    m = qwen_embed(dashscope_server, key, type='rerank')
    m('cat', documents=['cat', 'dog'])
    assert dashscope_server.requests[-1].json['model'] == 'gte-rerank-v2'


# -- native text generation (source='dashscope') --------------------------------------------
TEXT_GEN = NATIVE + 'services/aigc/text-generation/generation'


def native_chat(srv, key, **kw):
    return lazyllm.OnlineChatModule(source='dashscope', base_url=srv.native_url, api_key=key,
                                    **kw)


def test_native_chat_answers_with_usage(dashscope_server, key):
    m = native_chat(dashscope_server, key)
    assert m('hello native world') == 'hello native world'
    req = dashscope_server.requests[-1]
    assert req.route == TEXT_GEN and req.headers['authorization'] == f'Bearer {key}'
    assert req.json == {'model': 'qwen-plus', 'input': {'messages': [
        {'role': 'user', 'content': 'hello native world'}]},
        'parameters': {'result_format': 'message'}}
    assert m.usage['prompt_tokens'] > 0 and m.usage['completion_tokens'] == 3


def test_native_stream_asks_for_incremental_output(dashscope_server, key):
    """Without incremental_output every event repeats the whole text so far: joining them
    would repeat the answer. The module always asks for increments."""
    m = native_chat(dashscope_server, key, stream=True)
    chunks = list(m.stream('one two three four'))
    assert ''.join(chunks) == 'one two three four' and len(chunks) == 4
    req = dashscope_server.requests[-1]
    assert req.headers['x-dashscope-sse'] == 'enable'
    assert req.json['parameters']['incremental_output'] is True
    assert m('one two') == 'one two'             # __call__ with stream=True joins the chunks
    assert m.usage['requests'] == 2 and m.usage['completion_tokens'] > 0


def test_native_wrong_key_names_the_qwen_variable(dashscope_server):
    m = native_chat(dashscope_server, 'sk-wrong-native-key-0000')
    with pytest.raises(AuthenticationError) as e:
        m('hi')
    assert 'LAZYLLM_QWEN_API_KEY' in str(e.value) and 'sk-wrong-native-key-0000' not in str(e.value)


# -- cross-modal embeddings (native) -------------------------------------------------------
STYLES = ['keyword', 'positional']


def cross_modal(m, text, files, style):
    """Call ``m`` with images as ``lazyllm_files=`` (documented) or as the second argument."""
    if style == 'keyword':
        return m(text, lazyllm_files=files)
    return m(text, files)


@pytest.mark.parametrize('style', STYLES)
def test_cross_modal_embedding_of_a_text_and_an_image(dashscope_server, key, style):
    m = qwen_embed(dashscope_server, key, type='cross_modal_embed',
                   model='multimodal-embedding-v1')
    image = Image.open(io.BytesIO(png_bytes()))
    vectors = cross_modal(m, 'a red square', [image], style)
    req = dashscope_server.requests[-1]
    assert req.route == MM_EMBED
    assert req.headers['authorization'] == f'Bearer {key}'
    assert req.json['model'] == 'multimodal-embedding-v1'
    assert req.json['parameters'] == {}
    contents = req.json['input']['contents']
    assert contents[0] == {'text': 'a red square'}
    assert list(contents[1]) == ['image']
    assert contents[1]['image'].startswith('data:image/png;base64,')
    sent = base64.b64decode(contents[1]['image'].split(',', 1)[1])
    assert Image.open(io.BytesIO(sent)).tobytes() == image.tobytes()   # PIL re-encodes
    dim = dashscope_server.embed_dim
    assert vectors == [embed_vector('a red square', dim), multimodal_vector(contents[1], dim)]
    assert vectors[0] != vectors[1]


@pytest.mark.parametrize('style', STYLES)
def test_cross_modal_embedding_of_one_image_url(dashscope_server, key, style):
    m = qwen_embed(dashscope_server, key, type='cross_modal_embed', model='mm-embed')
    url = dashscope_server.publish('p.png', tiny_png())
    assert cross_modal(m, None, url, style) == multimodal_vector({'image': url},
                                                                 dashscope_server.embed_dim)
    assert dashscope_server.requests[-1].json['input']['contents'] == [{'image': url}]


def test_cross_modal_embedding_of_texts(dashscope_server, key):
    m = qwen_embed(dashscope_server, key, type='cross_modal_embed', model='mm-embed')
    dim = dashscope_server.embed_dim
    assert m('only text') == embed_vector('only text', dim)          # one item: one vector
    assert m(['a', 'b']) == [embed_vector('a', dim), embed_vector('b', dim)]
    assert dashscope_server.requests[-1].json['input']['contents'] == [{'text': 'a'},
                                                                       {'text': 'b'}]
    with pytest.raises(InputError):
        m()
    assert dashscope_server.count() == 2


def test_multimodal_embedding_route_rejects_other_items(dashscope_server, key):
    """The server side of the route: an item that is neither text nor image is a 400."""
    with Client(dashscope_server.native_url, api_key=key, max_retries=0) as client:
        with pytest.raises(OnlineAPIError, match=r'input.contents\[1\]') as info:
            client.request('POST', MM_EMBED, json={
                'model': 'mm', 'input': {'contents': [{'text': 'a'}, {'video': 'v.mp4'}]},
                'parameters': {}})
        assert info.value.status == 400 and 'InvalidParameter' in info.value.body
        answer = client.request('POST', MM_EMBED, json={
            'model': 'mm', 'input': {'contents': [{'text': 'a b'}, {'image': 'http://x/i.png'}]},
            'parameters': {}})
    assert answer['usage'] == {'input_tokens': 2, 'image_count': 1}
    assert [e['type'] for e in answer['output']['embeddings']] == ['text', 'image']


# -- speech-to-text (upload to temporary storage, then Qwen-Audio) --------------------------
def test_speech_to_text_uploads_without_the_key(dashscope_server, key, tmp_path):
    path = wav_file(tmp_path / 'speech.wav')
    data = path.read_bytes()
    m = qwen_media(dashscope_server, key, 'stt', model='qwen-audio-turbo')
    assert m(str(path)) == f'heard {len(data)} bytes of speech.wav'

    policy, upload, generation = dashscope_server.requests
    assert (policy.method, policy.route) == ('GET', NATIVE + 'uploads')
    assert policy.query == {'action': 'getPolicy', 'model': 'qwen-audio-turbo'}
    assert policy.headers['authorization'] == f'Bearer {key}'

    assert (upload.method, upload.route) == ('POST', '/oss')
    assert 'authorization' not in upload.headers
    assert not any(key in v for v in upload.headers.values())
    assert key.encode() not in upload.body
    assert upload.files['file'] == ('speech.wav', 'audio/wav', data)
    assert upload.form['key'].endswith('/speech.wav')
    assert upload.form['success_action_status'] == '200'

    assert generation.route == GENERATION
    assert generation.headers['authorization'] == f'Bearer {key}'
    assert generation.headers['x-dashscope-ossresourceresolve'] == 'enable'
    assert generation.json['model'] == 'qwen-audio-turbo'
    content = generation.json['input']['messages'][0]['content']
    assert content[0] == {'audio': f'oss://{upload.form["key"]}'}


def test_speech_to_text_of_bytes_and_a_named_tuple(dashscope_server, key, tmp_path):
    data = wav_file(tmp_path / 'a.wav').read_bytes()
    m = qwen_media(dashscope_server, key, 'stt', model='qwen-audio-turbo')
    assert m(('meeting.wav', data)) == f'heard {len(data)} bytes of meeting.wav'
    assert m(data) == f'heard {len(data)} bytes of audio.wav'
    with pytest.raises(InputError, match='URL'):
        m('https://example.com/a.wav')
    assert dashscope_server.count() == 6


def test_speech_to_text_without_model_uses_the_supplier_default(dashscope_server, key,
                                                                tmp_path):
    data = wav_file(tmp_path / 'a.wav').read_bytes()
    assert qwen_media(dashscope_server, key, 'stt')(data) == \
        f'heard {len(data)} bytes of audio.wav'
    assert dashscope_server.requests[-1].json['model'] == 'qwen-audio-turbo'


# -- image synthesis (async task) ----------------------------------------------------------
def test_text2image_polls_the_task_and_saves_the_images(dashscope_server, key, tmp_path):
    m = qwen_media(dashscope_server, key, 'text2image', tmp_path, model='wanx2.1-t2i-turbo',
                   poll_interval=0.05)
    paths = m('a red bicycle', n=2, negative_prompt='blur')
    assert len(paths) == 2
    for p in paths:
        assert p.startswith(str(tmp_path)) and p.endswith('.png')
        assert open(p, 'rb').read() == tiny_png()

    start, *rest = dashscope_server.requests
    assert start.route == SYNTHESIS
    assert start.headers['x-dashscope-async'] == 'enable'
    assert start.headers['authorization'] == f'Bearer {key}'
    assert start.json == {'model': 'wanx2.1-t2i-turbo',
                          'input': {'prompt': 'a red bicycle', 'negative_prompt': 'blur'},
                          'parameters': {'n': 2}}
    polls = [r for r in rest if r.route.startswith(NATIVE + 'tasks/')]
    downloads = [r for r in rest if r.route.startswith('/files/')]
    assert len(polls) == dashscope_server.task_polls
    assert all(r.headers['authorization'] == f'Bearer {key}' for r in polls)
    assert len(downloads) == 2
    assert all('authorization' not in r.headers for r in downloads)
    assert rest == polls + downloads


def test_text2image_task_failure(dashscope_server, key, tmp_path):
    dashscope_server.task_fails = True
    m = qwen_media(dashscope_server, key, 'text2image', tmp_path, model='wanx',
                   poll_interval=0.05)
    with pytest.raises(OnlineAPIError, match='DataInspectionFailed') as info:
        m('something')
    task_id = dashscope_server.requests[-1].route.rsplit('/', 1)[1]
    assert task_id in str(info.value) and 'FAILED' in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_native_wrong_key_names_the_variable(dashscope_server, key, tmp_path):
    wrong = 'sk-wrong-native-key-16180339'
    m = qwen_media(dashscope_server, wrong, 'text2image', tmp_path, model='wanx')
    with pytest.raises(AuthenticationError) as info:
        m('a cat')
    text = str(info.value)
    assert 'LAZYLLM_QWEN_API_KEY' in text and 'Invalid API-key' in text
    assert wrong not in text and wrong not in repr(m)
    assert dashscope_server.count() == 1


def test_auth_error_shows_the_signup_url_intact(dashscope_server, tmp_path):
    m = qwen_media(dashscope_server, 'sk-wrong-native-key-16180339', 'text2image', tmp_path,
                   model='wanx')
    with pytest.raises(AuthenticationError) as info:
        m('a cat')
    assert lazyllm.online.get_supplier('qwen').signup in str(info.value)


def test_text2image_throttling_is_retried(dashscope_server, key, tmp_path):
    dashscope_server.fail(429, retry_after=0, path='image-synthesis')
    m = qwen_media(dashscope_server, key, 'text2image', tmp_path, model='wanx',
                   poll_interval=0.05)
    assert len(m('a cat')) == 1
    assert dashscope_server.count(SYNTHESIS) == 2
    throttled = dashscope_server.requests[0]
    assert throttled.route == SYNTHESIS


def test_throttling_without_retries_is_a_rate_limit_error(dashscope_server, key, tmp_path):
    dashscope_server.fail(429, path='image-synthesis')
    m = qwen_media(dashscope_server, key, 'text2image', tmp_path, model='wanx', max_retries=0)
    with pytest.raises(lazyllm.errors.RateLimitError) as info:
        m('a cat')
    assert 'Throttling.RateQuota' in info.value.body
