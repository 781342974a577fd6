"""lazyllm.client.protocols.media: images and audio checked and converted for online suppliers.

Real files written with PIL and the stdlib ``wave`` module; no mocks.
"""
import base64
import copy
import io
import os
import subprocess
import sys
import wave
from pathlib import Path

import pytest

import lazyllm
from lazyllm.client.protocols.media import (
    audio_file,
    image_parts,
    image_url,
    media_type,
    split_data_url,
    with_images,
)
from lazyllm.errors import InputError

Image = pytest.importorskip('PIL.Image')

FORMATS = {'png': 'PNG', 'jpeg': 'JPEG', 'gif': 'GIF', 'webp': 'WEBP', 'bmp': 'BMP'}
ROOT = Path(__file__).resolve().parents[3]


def _picture(size=(16, 12)):
    img = Image.new('RGB', size)
    img.putdata([((x * 13) % 256, (y * 29) % 256, (x * y) % 256)
                 for y in range(size[1]) for x in range(size[0])])
    return img


def _decode(url):
    kind, b64 = split_data_url(url)
    return kind, base64.b64decode(b64)


@pytest.fixture
def images(tmp_path):
    """One real file per supported type, named with a misleading extension on purpose."""
    paths = {}
    for sub, fmt in FORMATS.items():
        p = tmp_path / f'picture_{sub}.dat'
        _picture().save(p, format=fmt)
        paths[sub] = p
    return paths


@pytest.fixture
def small_limit():
    lazyllm.config['max_image_mb'] = 0.001
    yield
    lazyllm.config.reset('max_image_mb')


# -- images: the accepted kinds ------------------------------------------------------------
@pytest.mark.parametrize('sub', list(FORMATS))
def test_path_becomes_data_url_of_the_sniffed_type(images, sub):
    url = image_url(images[sub])
    assert url.startswith(f'data:image/{sub};base64,')
    kind, data = _decode(url)
    assert kind == f'image/{sub}'
    assert data == images[sub].read_bytes()
    assert image_url(str(images[sub])) == url  # str and PathLike alike


def test_home_relative_path_is_expanded(images, monkeypatch):
    monkeypatch.setenv('HOME', str(images['png'].parent))
    assert image_url('~/' + images['png'].name).startswith('data:image/png;base64,')


def test_bytes_input(images):
    raw = images['jpeg'].read_bytes()
    for item in (raw, bytearray(raw), memoryview(raw)):
        assert _decode(image_url(item)) == ('image/jpeg', raw)


def test_pil_image_is_sent_as_png():
    img = _picture((20, 10))
    kind, data = _decode(image_url(img))
    assert kind == 'image/png'
    back = Image.open(io.BytesIO(data))
    assert back.size == (20, 10)
    assert back.convert('RGB').tobytes() == img.tobytes()


def test_http_url_is_returned_unchanged():
    for url in ('http://example.com/a.png', 'https://example.com/cat?size=large'):
        assert image_url(url) == url


def test_valid_data_url_is_returned_unchanged(images):
    url = 'data:image/gif;base64,' + base64.b64encode(images['gif'].read_bytes()).decode()
    assert image_url(url) == url


@pytest.mark.parametrize('url, says', [
    ('data:image/png;base64,@@not base64@@', 'base64'),
    ('data:image/png;base64,' + base64.b64encode(b'%PDF-1.4 hello').decode(), 'a PDF'),
])
def test_invalid_data_url(url, says):
    with pytest.raises(InputError, match=says):
        image_url(url)


def test_data_url_with_wrong_declared_type(images):
    url = 'data:image/jpeg;base64,' + base64.b64encode(images['png'].read_bytes()).decode()
    with pytest.raises(InputError, match='data:image/png;base64,'):
        image_url(url)


def test_image_parts(images):
    assert image_parts(None) == [] and image_parts([]) == []
    one = image_parts(images['png'])
    assert one == [{'type': 'image_url', 'image_url': {'url': image_url(images['png'])}}]
    many = image_parts((images['png'], 'https://x.test/y.jpg', images['bmp']))
    assert [p['type'] for p in many] == ['image_url'] * 3
    assert many[1]['image_url']['url'] == 'https://x.test/y.jpg'
    assert many[2]['image_url']['url'].startswith('data:image/bmp;base64,')


def test_split_data_url():
    assert split_data_url('data:image/png;base64,iVBOR') == ('image/png', 'iVBOR')
    with pytest.raises(InputError, match='data:'):
        split_data_url('https://example.com/a.png')


# -- images: errors --------------------------------------------------------------------------
def test_missing_file_names_the_path(tmp_path):
    missing = tmp_path / 'nope' / 'cat.png'
    with pytest.raises(InputError, match='image #3') as e:
        image_url(missing, 3)
    assert str(missing) in str(e.value)


def test_directory(tmp_path):
    with pytest.raises(InputError, match='directory'):
        image_url(tmp_path)


@pytest.mark.parametrize('data, says', [
    (b'%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj', 'a PDF'),
    (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"></svg>', 'an SVG'),
    (b'<svg width="10" height="10"></svg>', 'an SVG'),
])
def test_unsupported_type_says_what_it_is_and_what_is_supported(tmp_path, data, says):
    p = tmp_path / 'looks_like.png'
    p.write_bytes(data)
    for item in (p, data):
        with pytest.raises(InputError) as e:
            image_url(item, 1)
        msg = str(e.value)
        assert says in msg and 'image #1' in msg
        assert all(t in msg for t in ('PNG', 'JPEG', 'GIF', 'WebP', 'BMP'))


def test_wav_passed_as_image(tmp_path):
    with pytest.raises(InputError, match='a WAV audio file'):
        image_url(_wav_bytes(tmp_path))


def test_empty_and_unknown_kinds(tmp_path):
    with pytest.raises(InputError, match='empty'):
        image_url(b'')
    empty = tmp_path / 'empty.png'
    empty.write_bytes(b'')
    with pytest.raises(InputError, match='empty'):
        image_url(empty)
    with pytest.raises(InputError, match='PIL image') as e:
        image_url(42, 2)
    assert 'image #2 is of type int' in str(e.value)
    with pytest.raises(InputError, match='http'):
        image_url('ftp://example.com/a.png')


@pytest.fixture
def big_bmp(tmp_path):
    p = tmp_path / 'big.bmp'
    _picture((64, 64)).save(p, format='BMP')  # 12 KB
    return p


def test_too_large_set_in_code(big_bmp, small_limit):
    with pytest.raises(InputError) as e:
        image_url(big_bmp, 4)
    msg = str(e.value)
    assert 'image #4' in msg and 'max_image_mb' in msg and 'LAZYLLM_MAX_IMAGE_MB' in msg
    assert '0.001 MB' in msg
    with pytest.raises(InputError, match='max_image_mb'):
        image_url(big_bmp.read_bytes())
    with pytest.raises(InputError, match='max_image_mb'):
        image_url(_picture((64, 64)))


def test_too_large_set_by_env(big_bmp, monkeypatch):
    lazyllm.config.reset('max_image_mb')
    big = big_bmp
    assert image_url(big)  # default 20 MB
    monkeypatch.setenv('LAZYLLM_MAX_IMAGE_MB', '0.001')
    with pytest.raises(InputError, match='image #0.*LAZYLLM_MAX_IMAGE_MB'):
        image_url(big)


# -- with_images -----------------------------------------------------------------------------
def test_with_images_str_content_and_no_mutation(images):
    msgs = [{'role': 'system', 'content': 'be brief'},
            {'role': 'user', 'content': 'first'},
            {'role': 'assistant', 'content': 'ok'},
            {'role': 'user', 'content': 'what is this?'}]
    before = copy.deepcopy(msgs)
    out = with_images(msgs, [images['png'], images['jpeg']])
    assert msgs == before
    assert out[:3] == msgs[:3]
    last = out[3]['content']
    assert last[0] == {'type': 'text', 'text': 'what is this?'}
    assert [p['image_url']['url'].split(';')[0] for p in last[1:]] == [
        'data:image/png', 'data:image/jpeg']
    assert out[1]['content'] == 'first'  # only the last user message


def test_with_images_list_content(images):
    parts = [{'type': 'text', 'text': 'compare'}]
    msgs = [{'role': 'user', 'content': parts}]
    out = with_images(msgs, 'https://x.test/a.png')
    assert out[0]['content'] == parts + [
        {'type': 'image_url', 'image_url': {'url': 'https://x.test/a.png'}}]
    assert msgs[0]['content'] == [{'type': 'text', 'text': 'compare'}]


def test_with_images_empty_files_and_errors(images):
    msgs = [{'role': 'user', 'content': 'hi'}]
    assert with_images(msgs, None) == msgs and with_images(msgs, []) == msgs
    with pytest.raises(InputError, match='user'):
        with_images([{'role': 'system', 'content': 'x'}], images['png'])
    with pytest.raises(InputError, match='image #1'):
        with_images(msgs, [images['png'], b'%PDF-1.7'])


# -- audio -----------------------------------------------------------------------------------
def _wav_bytes(tmp_path, name='tone.wav', frames=800):
    p = tmp_path / name
    with wave.open(str(p), 'wb') as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(bytes(frames * 2))
    return p.read_bytes()


def test_audio_wav_path(tmp_path):
    data = _wav_bytes(tmp_path)
    assert audio_file(tmp_path / 'tone.wav') == ('tone.wav', data, 'audio/wav')
    assert audio_file(str(tmp_path / 'tone.wav')) == ('tone.wav', data, 'audio/wav')
    assert media_type(data) == 'audio/wav'


@pytest.mark.parametrize('data, name, mime', [
    (b'ID3\x04\x00\x00\x00\x00\x00\x00' + bytes(64), 'audio.mp3', 'audio/mpeg'),
    (b'\xff\xfb\x90\x64' + bytes(64), 'audio.mp3', 'audio/mpeg'),
    (b'fLaC\x00\x00\x00\x22' + bytes(64), 'audio.flac', 'audio/flac'),
    (b'OggS\x00\x02' + bytes(64), 'audio.ogg', 'audio/ogg'),
    (b'\x00\x00\x00\x20ftypM4A ' + bytes(64), 'audio.m4a', 'audio/mp4'),
    (b'\x1a\x45\xdf\xa3\x9f\x42\x86\x81' + bytes(64), 'audio.webm', 'audio/webm'),
])
def test_audio_bytes(data, name, mime):
    assert audio_file(data) == (name, data, mime)


def test_audio_tuple_keeps_the_name(tmp_path):
    data = _wav_bytes(tmp_path)
    assert audio_file(('meeting.wav', data)) == ('meeting.wav', data, 'audio/wav')


def test_audio_errors(tmp_path):
    with pytest.raises(InputError, match='download it first'):
        audio_file('https://example.com/talk.mp3')
    with pytest.raises(InputError, match='audio #2') as e:
        audio_file(b'just some text, not audio', 2)
    assert 'WAV' in str(e.value) and 'ffmpeg' in str(e.value)
    with pytest.raises(InputError, match='a PNG image'):
        audio_file(b'\x89PNG\r\n\x1a\n' + bytes(16))
    with pytest.raises(InputError, match='empty'):
        audio_file(b'')
    with pytest.raises(InputError, match=str(tmp_path / 'missing.wav')):
        audio_file(tmp_path / 'missing.wav')
    with pytest.raises(InputError, match='tuple'):
        audio_file(3.5)


def test_audio_size_limit(tmp_path):
    data = _wav_bytes(tmp_path, frames=4000)
    with lazyllm.config.override(max_audio_mb=0.001):
        for item in (data, tmp_path / 'tone.wav'):
            with pytest.raises(InputError) as e:
                audio_file(item, 1)
            msg = str(e.value)
            assert 'audio #1' in msg and 'max_audio_mb' in msg and 'LAZYLLM_MAX_AUDIO_MB' in msg
    assert audio_file(data)[2] == 'audio/wav'


# -- import cost -----------------------------------------------------------------------------
def test_import_does_not_import_pil():
    code = ("import sys, lazyllm.client.protocols.media; "
            "assert 'PIL' not in sys.modules, 'PIL was imported'")
    env = {**os.environ, 'PYTHONPATH': str(ROOT)}
    r = subprocess.run([sys.executable, '-c', code], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
