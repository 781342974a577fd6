"""Encode a ``multipart/form-data`` body (file uploads: speech-to-text, image edits, object
storage forms).

The body is built once, as bytes, so that a retried upload sends exactly the same bytes and
the call's retry loop stays the same for JSON and uploads (httpx's own multipart stream can
only be read once).
"""
from __future__ import annotations

import secrets
from typing import Mapping

from ..errors import InputError

__all__ = ['encode_multipart']

FileTuple = tuple  # (filename, data: bytes, content_type)


def _quoted(value: str) -> str:
    return value.replace('\\', '\\\\').replace('"', '\\"').replace('\r', ' ').replace('\n', ' ')


def encode_multipart(form: Mapping[str, str] | None,
                     files: Mapping[str, FileTuple] | None) -> tuple[bytes, str]:
    """The body and ``Content-Type`` header of a form with ``form`` fields and ``files``
    (field -> ``(filename, bytes, content type)``)."""
    boundary = 'lazyllm-' + secrets.token_hex(12)
    out: list[bytes] = []
    for name, value in (form or {}).items():
        if not isinstance(name, str) or not isinstance(value, (str, int, float)) or \
                isinstance(value, bool):
            raise InputError(f'form field {name!r} must map a str to a str or number, not '
                             f'{type(value).__name__}: convert it with str()')
        out += [f'--{boundary}\r\nContent-Disposition: form-data; name="{_quoted(name)}"'
                f'\r\n\r\n'.encode(), str(value).encode('utf-8'), b'\r\n']
    for name, item in (files or {}).items():
        if not (isinstance(item, tuple) and len(item) == 3 and isinstance(item[0], str)
                and isinstance(item[1], (bytes, bytearray)) and isinstance(item[2], str)):
            raise InputError(f'file field {name!r} must be (filename, bytes, content type), '
                             f'e.g. ("a.wav", data, "audio/wav")')
        filename, data, ctype = item
        out += [f'--{boundary}\r\nContent-Disposition: form-data; name="{_quoted(name)}"; '
                f'filename="{_quoted(filename)}"\r\nContent-Type: {ctype}\r\n\r\n'.encode(),
                bytes(data), b'\r\n']
    out.append(f'--{boundary}--\r\n'.encode())
    return b''.join(out), f'multipart/form-data; boundary={boundary}'
