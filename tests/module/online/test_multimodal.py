"""OnlineMultiModalModule (and OnlineModule routing to it) over the OpenAI protocol, against a
real OpenAI-compatible server on 127.0.0.1: speech-to-text, text-to-speech, image generation.
Every test asserts what went over the wire (``srv.requests``) and what landed on disk.
"""
import asyncio
import io
import wave
from pathlib import Path

import pytest

import lazyllm
from lazyllm.errors import AuthenticationError, InputError
from lazyllm.module.online import OnlineMultiModalModule
from tests.servers.openai_answers import speech_bytes, tiny_png, transcript


def wav_bytes(frames=300, rate=16000):
    """A real mono 16-bit WAV built with the stdlib ``wave`` module."""
    buf = io.BytesIO()
    with wave.open(buf, 'wb') as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes((i * 7) % 256 for i in range(frames * 2)))
    return buf.getvalue()


def media(srv, key, type, tmp_path=None, **kw):
    return OnlineMultiModalModule(source='openai', type=type, base_url=srv.base_url,
                                  api_key=key, output_dir=tmp_path, **kw)


# -- speech-to-text ------------------------------------------------------------------------
@pytest.mark.parametrize('form', ['path', 'str path', 'bytes', 'tuple'])
def test_speech_to_text_inputs(openai_server, key, tmp_path, form):
    data = wav_bytes()
    path = tmp_path / 'talk.wav'
    path.write_bytes(data)
    arg, name = {'path': (path, 'talk.wav'), 'str path': (str(path), 'talk.wav'),
                 'bytes': (data, 'audio.wav'), 'tuple': (('memo.wav', data), 'memo.wav')}[form]
    m = media(openai_server, key, 'stt', model='whisper-1')
    assert m(arg) == transcript(name, data) == f'heard {len(data)} bytes of {name}'
    req = openai_server.requests[-1]
    assert (req.method, req.route) == ('POST', '/v1/audio/transcriptions')
    assert req.headers['authorization'] == f'Bearer {key}'
    assert req.headers['content-type'].startswith('multipart/form-data; boundary=')
    assert req.form == {'model': 'whisper-1'}
    assert req.files == {'file': (name, 'audio/wav', data)}


def test_speech_to_text_from_lazyllm_files_with_form_parameters(openai_server, key):
    data = wav_bytes()
    m = media(openai_server, key, 'stt', model='whisper-1', static_params={'language': 'en'})
    assert m(lazyllm_files=[('x.wav', data)], temperature=0) == transcript('x.wav', data)
    assert openai_server.requests[-1].form == {'model': 'whisper-1', 'language': 'en',
                                               'temperature': '0'}


@pytest.mark.parametrize('call', [
    lambda m, d: m('https://example.com/talk.wav'),
    lambda m, d: m(d, lazyllm_files=[d]),
    lambda m, d: m(lazyllm_files=[d, d]),
    lambda m, d: m(),
    lambda m, d: m(b'%PDF-1.4 not audio'),
    lambda m, d: m(d, prompt={'not': 'a form value'}),
], ids=['url', 'input and file', 'two files', 'nothing', 'not audio', 'dict parameter'])
def test_speech_to_text_bad_input_sends_nothing(openai_server, key, call):
    with pytest.raises(InputError):
        call(media(openai_server, key, 'stt'), wav_bytes())
    assert openai_server.count() == 0


def test_wrong_key_names_the_variable(openai_server, key):
    wrong = 'sk-wrong-openai-key-11235813'
    m = media(openai_server, wrong, 'stt')
    with pytest.raises(AuthenticationError) as info:
        m(wav_bytes())
    assert 'LAZYLLM_OPENAI_API_KEY' in str(info.value)
    assert wrong not in str(info.value) and wrong not in repr(m)


# -- text-to-speech ------------------------------------------------------------------------
def test_text_to_speech_writes_mp3_then_wav(openai_server, key, tmp_path):
    m = media(openai_server, key, 'tts', tmp_path, model='tts-1')
    path = m('Hello there')
    assert Path(path).parent == tmp_path and path.endswith('.mp3')
    assert Path(path).read_bytes() == speech_bytes('Hello there')
    assert openai_server.requests[-1].json == {'model': 'tts-1', 'input': 'Hello there',
                                               'voice': 'alloy'}

    wav = m('Hello there', response_format='wav', voice='nova')
    assert Path(wav).parent == tmp_path and wav.endswith('.wav')
    assert Path(wav).read_bytes() == speech_bytes('Hello there', 'wav')
    with wave.open(wav) as w:                                        # a real WAV file
        assert w.getnframes() > 0
    assert openai_server.requests[-1].json == {'model': 'tts-1', 'input': 'Hello there',
                                               'voice': 'nova', 'response_format': 'wav'}
    assert sorted(p.suffix for p in tmp_path.iterdir()) == ['.mp3', '.wav']


def test_text_to_speech_is_retried_after_a_server_error(openai_server, key, tmp_path):
    openai_server.fail(503)
    path = media(openai_server, key, 'tts', tmp_path)('again')
    assert Path(path).read_bytes() == speech_bytes('again')
    assert openai_server.count('/v1/audio/speech') == 2


def test_text_to_speech_takes_one_str(openai_server, key, tmp_path):
    m = media(openai_server, key, 'tts', tmp_path)
    for bad in ('', '   ', ['a'], None):
        with pytest.raises(InputError):
            m(bad)
    assert openai_server.count() == 0


def test_no_model_is_left_out_of_json_bodies(openai_server, key, tmp_path):
    media(openai_server, key, 'tts', tmp_path)('hi')
    media(openai_server, key, 'text2image', tmp_path)('a cat')
    assert all('model' not in r.json for r in openai_server.requests if r.json)


# -- image generation ----------------------------------------------------------------------
def test_text_to_image_from_urls(openai_server, key, tmp_path):
    m = media(openai_server, key, 'text2image', tmp_path, model='dall-e-3')
    paths = m('a red bicycle', n=2)
    assert len(paths) == 2
    assert all(Path(p).parent == tmp_path and p.endswith('.png') for p in paths)
    assert all(Path(p).read_bytes() == tiny_png() for p in paths)
    generate, *downloads = openai_server.requests
    assert generate.json == {'model': 'dall-e-3', 'prompt': 'a red bicycle', 'n': 2}
    assert generate.headers['authorization'] == f'Bearer {key}'
    assert [r.route for r in downloads] == ['/files/img-1.png', '/files/img-2.png']
    for r in downloads:                              # the key never goes to image hosts
        assert 'authorization' not in r.headers
        assert not any(key in v for v in r.headers.values())


def test_downloads_from_this_machine_ignore_the_proxy(openai_server, key, tmp_path,
                                                      monkeypatch):
    for name in ('NO_PROXY', 'no_proxy'):
        monkeypatch.delenv(name, raising=False)
    for name in ('HTTP_PROXY', 'http_proxy', 'ALL_PROXY', 'all_proxy'):
        monkeypatch.setenv(name, 'http://127.0.0.1:9')       # nothing listens there
    m = media(openai_server, key, 'text2image', tmp_path, model='dall-e-3', max_retries=0)
    [path] = m('a red bicycle')
    assert Path(path).read_bytes() == tiny_png()


def test_text_to_image_from_base64(openai_server, key, tmp_path):
    m = media(openai_server, key, 'text2image', tmp_path, model='dall-e-3')
    [path] = m('a red bicycle', response_format='b64_json')
    assert Path(path).read_bytes() == tiny_png() and path.endswith('.png')
    assert openai_server.count() == 1                  # nothing to download
    assert openai_server.requests[0].json['response_format'] == 'b64_json'


def test_text_to_image_takes_a_prompt(openai_server, key, tmp_path):
    m = media(openai_server, key, 'sd', tmp_path)
    assert m.type == 'text2image'
    with pytest.raises(InputError):
        m('')
    with pytest.raises(InputError):
        m('a cat', lazyllm_files=[tiny_png()])
    assert openai_server.count() == 0


# -- OnlineModule routing ------------------------------------------------------------------
@pytest.mark.parametrize('type', ['stt', 'asr', 'tts', 'text2image', 'image_editing'])
def test_online_module_routes_media_types(openai_server, key, type):
    om = lazyllm.OnlineModule(source='openai', type=type, base_url=openai_server.base_url,
                              api_key=key)
    assert isinstance(om, OnlineMultiModalModule)
    assert om.base_url == openai_server.base_url
    assert key not in repr(om)


def test_online_module_reads_the_type_from_the_model_name(openai_server, key):
    om = lazyllm.OnlineModule('whisper-1', source='openai', url=openai_server.base_url,
                              api_key=key)
    assert om.type == 'stt' and isinstance(om, OnlineMultiModalModule)


def test_online_module_stt_call_and_acall(openai_server, key):
    om = lazyllm.OnlineModule(source='openai', type='stt', base_url=openai_server.base_url,
                              api_key=key, model='whisper-1')
    data = wav_bytes()
    assert om(('a.wav', data)) == transcript('a.wav', data)
    assert asyncio.run(om.acall(('b.wav', data))) == transcript('b.wav', data)
    assert [r.files['file'][0] for r in openai_server.requests] == ['a.wav', 'b.wav']
    assert om.usage['requests'] == 2


def test_image_editing(openai_server, key, tmp_path):
    om = lazyllm.OnlineModule(source='openai', type='image_editing', api_key=key,
                              base_url=openai_server.base_url, output_dir=tmp_path,
                              model='gpt-image-1')
    paths = om('make it blue', lazyllm_files=[tiny_png()])
    assert all(Path(p).read_bytes() for p in paths)
    req = openai_server.requests[0]
    assert req.route == '/v1/images/edits'
    assert req.form['prompt'] == 'make it blue' and req.form['model'] == 'gpt-image-1'
    assert req.files['image'][1:] == ('image/png', tiny_png())
