"""Check API keys and header values before httpx sees them.

HTTP sends header values as ASCII text on one line. httpx encodes them only when a request
is sent, so a bad value used to surface at the first call, deep inside httpx: a non-ASCII key
(a typographic quote or a zero-width space pasted with it) as ``UnicodeEncodeError``, a key
read from a file with its newline as h11's ``LocalProtocolError``. Here each is an
``InputError`` at construction that names the argument and the fix, and never shows a
secret: only what is wrong with it (the position and code point of a bad character, which is
not part of any real key).

A key with surrounding whitespace is refused, not stripped. httpx and the ``openai`` SDK send
what they are given (and httpx refuses a trailing newline), so a user who moves between them
expects the key to be used byte for byte; stripping silently would also hide a key read from
the wrong file, or a half-pasted one. The message says how to strip it when that was meant.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from ..errors import InputError

__all__ = ['check_api_key', 'check_headers', 'is_secret_header']

_TOKEN = re.compile(r"[-!#$%&'*+.^_`|~0-9A-Za-z]+")     # RFC 9110 field-name
_SECRET_WORDS = ('key', 'token', 'auth', 'secret', 'cookie')


def is_secret_header(name: str) -> bool:
    """A header whose value is a credential (never shown in a message or a log)."""
    return any(w in name.lower() for w in _SECRET_WORDS)


def _char(c: str) -> str:
    return f'U+{ord(c):04X}'


def _problem(value: str, *, inner_space: bool) -> str | None:
    """What makes ``value`` unsendable as a header value, or None. Never quotes ``value``."""
    if value != value.rstrip():
        return ('ends with a newline' if value.rstrip(' \t') != value.rstrip()
                else 'ends with whitespace')
    if value != value.lstrip():
        return 'starts with whitespace'
    for i, c in enumerate(value):
        if c in '\r\n' or ord(c) < 32 and c != '\t' or ord(c) == 127:
            return f'holds a control character ({_char(c)}) at position {i}'
        if ord(c) > 127:
            return (f'holds the non-ASCII character {_char(c)} at position {i} (HTTP headers '
                    f'are ASCII: a typographic quote or an invisible space copied with it?)')
        if not inner_space and c.isspace():
            return f'holds whitespace at position {i}'
    return None


def check_api_key(key: Any, fix: str | None = None) -> str | None:
    """``key`` if it can be sent as a bearer token; None for None or ''. ``fix`` says where
    the key came from (``set LAZYLLM_QWEN_API_KEY or pass api_key=``)."""
    if key is None:
        return None
    if not isinstance(key, str):
        raise InputError(f'api_key must be a str or None, not {type(key).__name__}: pass the '
                         f'key text')
    problem = _problem(key, inner_space=False)
    if problem:
        where = fix or 'pass api_key='
        strip = ' (read from a file? use .strip())' if 'whitespace' in problem or \
            'newline' in problem else ''
        raise InputError(f'the API key (api_key) {problem}, which an HTTP header cannot '
                         f'carry{strip}: fix the key text, then {where}')
    return key or None


def check_headers(headers: Any, fix: str | None = None) -> dict[str, str]:
    """``headers`` as a dict after checking every name and value. A credential header (its
    name says key, token, auth…) is checked like an API key and its value never shown."""
    if headers is None:
        return {}
    if not isinstance(headers, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        raise InputError("headers must be a dict of str to str: pass e.g. {'X-Trace': 'abc'}")
    for name, value in headers.items():
        if not _TOKEN.fullmatch(name):
            raise InputError(f'{name!r} is not a valid header name: use letters, digits and '
                             f"-_.!#$%&'*+^`|~ only, e.g. 'X-Trace'")
        secret = is_secret_header(name)
        problem = _problem(value, inner_space=not secret)
        if problem:
            shown = 'the value' if secret else f'the value {value!r}'
            then = f'; if it is the API key: {fix}' if secret and fix else ''
            raise InputError(f'header {name!r}: {shown} {problem}, which HTTP cannot send: '
                             f'fix it{then}')
    return dict(headers)
