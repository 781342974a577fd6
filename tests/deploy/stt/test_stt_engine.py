"""The whisper engine over real HTTP: a TrainableModule on whisper tiny.en transcribes
espeak-ng speech, the OpenAI response formats, and requests it refuses with a 400."""
import asyncio
import concurrent.futures as cf

import httpx
import pytest

import lazyllm
from lazyllm.client import Client
from lazyllm.client._multipart import encode_multipart
from lazyllm.errors import InputError, LazyLLMError, OnlineAPIError
from tests.support.speech import SENTENCES, words

LONDON, SKY = words(SENTENCES['london']), words(SENTENCES['sky'])
NOT_AUDIO = b'these are notes, not a recording\n' * 4
BROKEN_WAV = b'RIFF\x24\x08\x00\x00WAVEfmt ' + b'\x00' * 16   # a WAV header, then nothing


def url(stt, path):
    return stt._deployment.url.rstrip('/') + '/' + path      # …/v1/ + path


def post(stt, files=None, data=None, **kw):
    return httpx.post(url(stt, 'audio/transcriptions'), files=files, data=data, timeout=120,
                      **kw)


def test_type_is_inferred_and_auto_picks_whisper(stt):
    dep = stt._deployment
    assert dep.type == lazyllm.hub.ModelType.STT
    assert dep.target()[1] is lazyllm.deploy.whisper
    health = httpx.get(dep.url.replace('/v1/', '/health'), timeout=10).json()
    assert health['status'] == 'ok' and health['kind'] == 'stt'
    card = httpx.get(url(stt, 'models'), timeout=10).json()['data'][0]
    assert card['id'] == dep.served_name and card['kind'] == 'stt'


def test_module_transcribes_a_path_bytes_and_a_named_tuple(stt, speech):
    from_path = stt(str(speech['london']))
    assert isinstance(from_path, str) and LONDON <= words(from_path), from_path
    data = speech['london'].read_bytes()
    assert LONDON <= words(stt(data))
    sky = stt(('sky.wav', speech['sky'].read_bytes()), language='en')
    assert SKY <= words(sky), sky


def test_prompt_and_temperature_reach_the_engine(stt, speech):
    text = stt(speech['london'], prompt='My name is John.', temperature=0.0)
    assert LONDON <= words(text)
    with pytest.raises(InputError, match='unknown sampling option'):
        stt(speech['london'], beam=3)


def test_async_call_and_concurrent_calls(stt, speech):
    assert LONDON <= words(asyncio.run(stt.acall(speech['london'])))
    with cf.ThreadPoolExecutor(3) as pool:
        texts = list(pool.map(stt, [speech['london'], speech['sky'], speech['london']]))
    assert LONDON <= words(texts[0]) and LONDON <= words(texts[2])
    assert SKY <= words(texts[1])
    [streamed] = list(stt.stream(speech['sky']))      # one answer, not a text stream
    assert SKY <= words(streamed) and stt.supports_streaming is False


def test_openai_response_formats(stt, speech):
    audio = {'file': ('london.wav', speech['london'].read_bytes(), 'audio/wav')}
    as_json = post(stt, audio, {'model': stt.deployment.served_name})
    assert as_json.status_code == 200, as_json.text
    unknown = post(stt, audio, {'model': 'whisper-1'})     # OpenAI's name is not this model
    assert unknown.status_code == 404 and unknown.json()['error']['code'] == 'model_not_found'
    body = as_json.json()
    assert LONDON <= words(body['text']) and body['usage']['type'] == 'duration'
    as_text = post(stt, audio, {'response_format': 'text'})
    assert as_text.headers['content-type'].startswith('text/plain')
    assert as_text.text.strip() == body['text']
    verbose = post(stt, audio, {'response_format': 'verbose_json', 'language': 'en'}).json()
    assert verbose['task'] == 'transcribe' and verbose['language'] == 'en'
    assert verbose['text'] == body['text'] and 1.0 < verbose['duration'] < 10.0
    seg = verbose['segments'][0]
    assert 0 <= seg['start'] < seg['end'] <= verbose['duration'] + 0.5 and seg['tokens']


def test_the_lazyllm_client_sends_the_upload(stt, speech):
    with Client(stt._deployment.url) as c:
        out = c.request('POST', 'audio/transcriptions', form={'response_format': 'json'},
                        files={'file': ('london.wav', speech['london'].read_bytes(), 'audio/wav')})
    assert LONDON <= words(out['text'])


def test_non_audio_file_is_a_400_that_says_so(stt):
    answer = post(stt, {'file': ('notes.txt', NOT_AUDIO, 'text/plain')})
    assert answer.status_code == 400
    message = answer.json()['error']['message']
    assert "'notes.txt' is not audio" in message and 'WAV' in message
    with Client(stt._deployment.url) as c, pytest.raises(OnlineAPIError) as caught:
        c.request('POST', 'audio/transcriptions',
                  files={'file': ('notes.txt', NOT_AUDIO, 'text/plain')})
    assert caught.value.status == 400
    assert 'is not audio' in str(caught.value)


def test_module_call_with_broken_audio_names_the_cause(stt, tmp_path):
    broken = tmp_path / 'broken.wav'     # looks like a WAV to the module, not to the decoder
    broken.write_bytes(BROKEN_WAV)
    with pytest.raises(LazyLLMError, match='is not audio|no audio samples') as caught:
        stt(broken)
    assert '400' in str(caught.value)
    notes = tmp_path / 'notes.txt'       # not audio at all: refused before any request
    notes.write_bytes(NOT_AUDIO)
    with pytest.raises(InputError, match='speech-to-text'):
        stt(notes)
    with pytest.raises(InputError, match='one audio input'):
        stt(notes, notes)


@pytest.mark.parametrize('files, data, expected', [
    (None, {'language': 'en'}, 'the "file" field is missing'),
    (None, {'file': 'london.wav'}, 'not as a plain form value'),
    ('speech', {'response_format': 'srt'}, 'subtitles are not supported'),
    ('speech', {'temperature': 'hot'}, 'temperature must be a number'),
    ('speech', {'temperature': '1.5'}, 'temperature must be from 0 to 1'),
    ('speech', {'language': 'fr'}, 'English-only'),
    ('speech', {'timestamp_granularities[]': 'word'}, 'unsupported field'),
    ('empty', None, 'is empty (0 bytes)'),
])
def test_bad_requests_are_400(stt, speech, files, data, expected):
    content = {'speech': speech['london'].read_bytes(), 'empty': b''}.get(files)
    body, ctype = encode_multipart(data, {'file': ('a.wav', content, 'audio/wav')}
                                   if files else None)     # a form even without a file
    answer = httpx.post(url(stt, 'audio/transcriptions'), content=body, timeout=120,
                        headers={'Content-Type': ctype})
    assert answer.status_code == 400, answer.text
    assert expected in answer.json()['error']['message']


def test_a_json_body_is_a_400_that_says_multipart(stt):
    answer = httpx.post(url(stt, 'audio/transcriptions'), json={'file': 'london.wav'}, timeout=30)
    assert answer.status_code == 400
    assert 'multipart/form-data' in answer.json()['error']['message']
