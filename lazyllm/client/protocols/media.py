"""Turn the caller's images and audio into what online suppliers accept, checked up front.

Vision models take images only as http(s) URLs or ``data:image/...;base64,`` URLs, and
speech-to-text endpoints take audio only as a multipart upload. Users have paths, bytes and
PIL images, so they are converted here. The type is sniffed from the magic bytes (not the file
name) and the size is checked against a setting, so a PDF, an SVG or a 40 MB photo fails with
an InputError naming the item, the cause and the fix, instead of a bare 400 from the supplier.
Pure functions: no network I/O, and nothing heavy (PIL is never imported) at import time.
"""
from __future__ import annotations

import base64
import binascii
import io
import os
from typing import Any, Mapping

from ..._config import config
from ...errors import InputError

__all__ = ['image_url', 'image_parts', 'split_data_url', 'with_images', 'audio_file',
           'media_type']


_IMAGES = {'image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/bmp'}
_AUDIO = {'audio/wav': 'wav', 'audio/mpeg': 'mp3', 'audio/flac': 'flac', 'audio/ogg': 'ogg',
          'audio/mp4': 'm4a', 'audio/webm': 'webm'}
_NAMES = {
    'image/png': 'a PNG image', 'image/jpeg': 'a JPEG image', 'image/gif': 'a GIF image',
    'image/webp': 'a WebP image', 'image/bmp': 'a BMP image', 'image/tiff': 'a TIFF image',
    'image/heic': 'a HEIC image', 'image/avif': 'an AVIF image',
    'image/svg+xml': 'an SVG (text)', 'text/html': 'an HTML page', 'application/pdf': 'a PDF',
    'application/zip': 'a ZIP archive (or .docx/.xlsx)', 'audio/wav': 'a WAV audio file',
    'audio/mpeg': 'an MP3 audio file', 'audio/flac': 'a FLAC audio file',
    'audio/ogg': 'an OGG audio file', 'audio/mp4': 'an MP4/M4A file',
    'audio/webm': 'a WebM file', 'audio/aac': 'raw AAC (ADTS) audio',
}
_IMAGE_HELP = 'pass a PNG, JPEG, GIF, WebP or BMP image (convert it first)'
_AUDIO_HELP = 'pass WAV, MP3, FLAC, OGG, M4A or WebM audio (convert it first, e.g. with ffmpeg)'
_MAGIC = ((b'\x89PNG\r\n\x1a\n', 'image/png'), (b'\xff\xd8\xff', 'image/jpeg'),
          (b'GIF87a', 'image/gif'), (b'GIF89a', 'image/gif'), (b'II*\x00', 'image/tiff'),
          (b'MM\x00*', 'image/tiff'), (b'fLaC', 'audio/flac'), (b'OggS', 'audio/ogg'),
          (b'ID3', 'audio/mpeg'), (b'\x1a\x45\xdf\xa3', 'audio/webm'),
          (b'%PDF-', 'application/pdf'), (b'PK\x03\x04', 'application/zip'))


def media_type(data: bytes) -> str | None:
    """The media type the magic bytes of ``data`` show, e.g. 'image/png', or None if unknown."""
    head = bytes(data[:1024])
    kind = next((k for magic, k in _MAGIC if head.startswith(magic)), None)
    if kind:
        return kind
    if head[:4] == b'RIFF' and head[8:12] in (b'WEBP', b'WAVE'):
        return 'image/webp' if head[8:12] == b'WEBP' else 'audio/wav'
    if head.startswith(b'BM') and len(head) >= 26:
        return 'image/bmp'
    if head[4:8] == b'ftyp':
        brand = head[8:12]
        if brand in (b'heic', b'heix', b'hevc', b'mif1', b'msf1'):
            return 'image/heic'
        return 'image/avif' if brand == b'avif' else 'audio/mp4'
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return 'audio/mpeg' if head[1] & 0x06 else 'audio/aac'  # layer bits 00: ADTS AAC
    text = head.lstrip(b'\xef\xbb\xbf \t\r\n').lower()
    if text.startswith(b'<svg') or (text.startswith(b'<?xml') and b'<svg' in text):
        return 'image/svg+xml'
    if text.startswith((b'<!doctype html', b'<html')):
        return 'text/html'
    return None


def _describe(data: bytes) -> str:
    kind = media_type(data)
    if kind:
        return _NAMES.get(kind, kind)
    try:
        text = bytes(data[:40]).decode('utf-8')
    except UnicodeDecodeError:
        text = '\x00'
    if all(c.isprintable() or c.isspace() for c in text):
        return f'text ({text!r:.30}…)'
    return f'unrecognised data (starting {bytes(data[:8])!r})'


def _size(n: float) -> str:
    return f'{n / 2**20:.1f} MB' if n >= 2**20 / 10 else f'{n / 1024:.1f} KB'


def _check_size(n: int, what: str, setting: str) -> None:
    limit = config[setting]
    if limit is not None and n > limit * 2**20:
        raise InputError(f'{what} is {_size(n)}, over the {limit:g} MB limit (setting {setting}, '
                         f'env {config.setting(setting).env}): '
                         f'{"resize" if "image" in setting else "split"} or compress it, '
                         f'or raise the limit')


def _read(path: Any, what: str, setting: str) -> bytes:
    shown = os.fspath(path)
    p = os.path.expanduser(shown)
    hint = ('; if it is base64 data, prefix it with data:<type>;base64,' if len(shown) > 200
            and os.sep not in shown else '')
    if not os.path.exists(p):
        where = '' if os.path.isabs(p) else f' (relative to {os.getcwd()})'
        raise InputError(f'{what}: no file at {shown[:200]!r}{where}: check the path{hint}')
    if os.path.isdir(p):
        raise InputError(f'{what}: {shown!r} is a directory, not a file: pass the path of one '
                         f'file (list the folder yourself to send several)')
    try:
        _check_size(os.path.getsize(p), f'{what} ({shown})', setting)
        with open(p, 'rb') as f:
            return f.read()
    except OSError as e:
        raise InputError(f'{what}: cannot read {shown!r} ({e.strerror or e}): check that the '
                         f'file is readable') from e


def _is_pil(x: Any) -> bool:
    return type(x).__module__.startswith('PIL.') and callable(getattr(x, 'save', None))


def _check(data: bytes, what: str, audio: bool = False) -> str:
    accepted, fix = (_AUDIO, _AUDIO_HELP) if audio else (_IMAGES, _IMAGE_HELP)
    if not data:
        raise InputError(f'{what} is empty (0 bytes): {fix}')
    kind = media_type(data)
    if kind not in accepted:
        who = 'the speech-to-text endpoint' if audio else 'vision models'
        raise InputError(f'{what} is {_describe(data)}, which {who} do not accept: {fix}')
    _check_size(len(data), what, 'max_audio_mb' if audio else 'max_image_mb')
    assert kind is not None     # None is in neither accepted list
    return kind


def split_data_url(url: str) -> tuple[str, str]:
    """``data:<media_type>;base64,<data>`` as ``(media_type, data)``."""
    if not (isinstance(url, str) and url.startswith('data:') and ';base64,' in url):
        raise InputError(f'{str(url)[:60]!r} is not a data:<type>;base64,<data> URL: build one '
                         f'with image_url() from a local file, bytes or a PIL image')
    head, data = url[5:].split(',', 1)
    return head[:-len(';base64')], data


def image_url(item: Any, index: int = 0) -> str:
    """One image (http(s) URL, data URL, path, bytes or PIL image) as a URL a vision model
    accepts: URLs unchanged, everything else as ``data:image/<type>;base64,...``."""
    what = f'image #{index}'
    if isinstance(item, str) and item.startswith(('http://', 'https://')):
        return item
    if isinstance(item, str) and item.startswith('data:'):
        declared, b64 = split_data_url(item)
        try:
            data = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError) as e:
            raise InputError(f'{what} (data URL) is not valid base64 ({e}): encode the bytes '
                             f'with base64.b64encode, or pass the bytes or path instead') from e
        kind = _check(data, f'{what} (data URL)')
        if declared != kind:
            raise InputError(f'{what} (data URL) says {declared} but holds {_NAMES[kind]}: '
                             f'start it with data:{kind};base64,')
        return item
    if isinstance(item, (bytes, bytearray, memoryview)):
        data, what = bytes(item), f'{what} (bytes)'
    elif _is_pil(item):
        buf = io.BytesIO()
        try:
            item.save(buf, format='PNG')
        except (OSError, ValueError, KeyError) as e:
            raise InputError(f'{what} (PIL image, mode {getattr(item, "mode", "?")}) cannot be '
                             f'saved as PNG ({e}): pass img.convert("RGB")') from e
        data, what = buf.getvalue(), f'{what} (PIL image)'
    elif isinstance(item, (str, os.PathLike)):
        if '://' in str(item)[:16]:
            raise InputError(f'{what}: {str(item)[:60]!r} is not an http(s) URL: download it '
                             f'and pass the local path, or pass an http(s) URL')
        data = _read(item, what, 'max_image_mb')
        what = f'{what} ({os.fspath(item)})'
    else:
        raise InputError(f'{what} is of type {type(item).__name__}: pass an http(s) URL, a '
                         f'data: URL, a file path, bytes, or a PIL image')
    kind = _check(data, what)
    return f'data:{kind};base64,{base64.b64encode(data).decode("ascii")}'


def image_parts(files: Any) -> list[dict]:
    """One image or a list of them as OpenAI ``image_url`` content parts."""
    if files is None:
        return []
    items = files if isinstance(files, (list, tuple)) else [files]
    return [{'type': 'image_url', 'image_url': {'url': image_url(f, i)}}
            for i, f in enumerate(items)]


def with_images(messages: Any, files: Any) -> list:
    """A new message list whose last user message also carries ``files`` as image parts."""
    msgs = [{'role': 'user', 'content': messages}] if isinstance(messages, str) else messages
    if not isinstance(msgs, (list, tuple)):
        raise InputError(f'messages must be a list of dicts, not {type(msgs).__name__}: pass '
                         f"e.g. [{{'role': 'user', 'content': 'describe this image'}}]")
    parts = image_parts(files)
    msgs = list(msgs)
    if not parts:
        return msgs
    last = next((i for i in reversed(range(len(msgs)))
                 if isinstance(msgs[i], Mapping) and msgs[i].get('role') == 'user'), None)
    if last is None:
        raise InputError('no user message to attach the images to: add a message with '
                         "'role': 'user' (e.g. the question about the images)")
    content = msgs[last].get('content')
    if isinstance(content, list):
        new = list(content) + parts
    else:
        new = ([{'type': 'text', 'text': content}] if content else []) + parts
    msgs[last] = {**msgs[last], 'content': new}
    return msgs


def audio_file(item: Any, index: int = 0) -> tuple[str, bytes, str]:
    """One audio input (path, bytes or ``(filename, bytes)``) as ``(filename, data, mime)``
    for a multipart upload."""
    what, name = f'audio #{index}', None
    if isinstance(item, str) and item.startswith(('http://', 'https://')):
        raise InputError(f'{what} is a URL ({item[:60]}): speech-to-text endpoints take '
                         f'uploads, so download it first and pass the local file or its bytes')
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str) \
            and isinstance(item[1], (bytes, bytearray, memoryview)):
        name, data, what = item[0], bytes(item[1]), f'{what} ({item[0]})'
    elif isinstance(item, (bytes, bytearray, memoryview)):
        data, what = bytes(item), f'{what} (bytes)'
    elif isinstance(item, (str, os.PathLike)):
        data = _read(item, what, 'max_audio_mb')
        name, what = os.path.basename(os.fspath(item)), f'{what} ({os.fspath(item)})'
    else:
        raise InputError(f'{what} is of type {type(item).__name__}: pass a file path, bytes, '
                         f'or a (filename, bytes) tuple')
    kind = _check(data, what, audio=True)
    return name or f'audio.{_AUDIO[kind]}', data, kind
