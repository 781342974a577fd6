"""Turn whatever URL a user pastes into the base URL of an OpenAI-compatible API.

Users copy URLs from many places: a bare ``host:port``, the ``…/v1`` of a vLLM banner, the
full ``…/v1/chat/completions`` of an API doc, or vLLM's legacy ``…/generate``. Every client
call joins an endpoint name (``chat/completions``) to the base, so the base must be exactly
``scheme://host[:port]/prefix/`` with one trailing slash. Normalizing once, at construction,
keeps every later join a plain string concatenation.
"""
from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from .._redact import redact
from ..errors import InputError

__all__ = ['normalize_base_url', 'is_loopback']

# Endpoint paths a pasted URL may end with; stripped (longest first) to find the base.
_ENDPOINTS = ('/chat/completions', '/audio/transcriptions', '/completions', '/embeddings',
              '/rerank', '/classify', '/models', '/health')
_SCHEMES = ('http', 'https')
_LOOPBACK = ('localhost', '::1')


def normalize_base_url(url: str) -> str:
    """The base URL of the OpenAI API at ``url``, always ending with ``/``.

    ``http://h:8000``, ``h:8000``, ``http://h:8000/v1``, ``http://h:8000/v1/``, any
    ``…/v1/<endpoint>`` and vLLM's legacy ``http://h:8000/generate`` all give
    ``http://h:8000/v1/``. A URL with another path prefix (``https://api.x.com/compatible-mode
    /v1``) keeps it. A query string (``?api-version=…``) is kept after the slash.
    """
    if not isinstance(url, str) or not url.strip():
        raise InputError(f'base URL {_shown(url)} is empty: pass the URL of an OpenAI-compatible '
                         f'endpoint, e.g. "http://127.0.0.1:8000/v1/"')
    text = url.strip()
    bad = next((c for c in text if ord(c) < 32 or ord(c) == 127 or c.isspace()
                or 0xD800 <= ord(c) <= 0xDFFF), None)
    if bad is not None:
        raise InputError(f'base URL {_shown(url)} holds {_what(bad)}, which a URL cannot: '
                         f'remove it (copied along with the URL?) or percent-encode it')
    if '://' not in text:
        text = 'http://' + text
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as e:
        raise InputError(f'base URL {_shown(url)} cannot be parsed ({e}): pass a URL such as '
                         f'"http://127.0.0.1:8000/v1/"') from e
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise InputError(f'base URL {_shown(url)} has the unsupported scheme {parts.scheme!r}: '
                         f'use http:// or https://')
    if not parts.hostname:
        raise InputError(f'base URL {_shown(url)} has no host: pass a URL such as '
                         f'"http://127.0.0.1:8000/v1/"')
    host = parts.hostname
    if host.isascii() and ':' not in host:   # httpx encodes non-ASCII hosts (IDNA) itself
        try:
            host.encode('idna')   # what the socket layer does at the first call
        except UnicodeError:
            raise InputError(f'base URL {_shown(url)} has the host name {host!r}, which has an '
                             f'empty part or a part longer than 63 characters: fix the host '
                             f'name') from None
    return urlunsplit((scheme, parts.netloc, _base_path(parts.path), parts.query, ''))


def _shown(url: object) -> str:
    return redact(repr(url))  # a pasted URL may carry ?key=…


def _what(c: str) -> str:
    kind = 'whitespace' if c.isspace() else 'a lone surrogate' if ord(c) > 127 else \
        'a control character'
    return f'{kind} (U+{ord(c):04X})'


def _base_path(path: str) -> str:
    path = path.rstrip('/')
    for suffix in _ENDPOINTS:
        if path.endswith(suffix):
            path = path[:-len(suffix)]
            break
    if path.endswith('/generate'):  # vLLM's legacy API server: the OpenAI one is at /v1
        path = path[:-len('/generate')] + '/v1'
    return (path or '/v1') + '/'


def is_loopback(base_url: str) -> bool:
    """True when ``base_url`` points at this machine (such URLs never go through a proxy)."""
    host = (urlsplit(base_url).hostname or '').lower()
    return host in _LOOPBACK or host.startswith('127.')
