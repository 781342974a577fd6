"""Who may call the gateway: API keys, and the rule that keeps an open gateway local.

Keys come from a file (one per line, ``#`` comments) and the ``LAZYLLM_GATEWAY_API_KEYS``
environment variable (comma-separated). Admin keys (``--admin-key-file``,
``LAZYLLM_GATEWAY_ADMIN_KEYS``) are loaded the same way and guard the management API
(``/v1/deployments``: launching and stopping engines is more than calling them): with admin
keys, a management call needs one, a normal key is refused with a 403, and an admin key may
also call the models; without them, the normal keys guard management too. A request shows
a key as ``Authorization: Bearer K`` (what the OpenAI SDKs send); it is compared with every
key in constant time (``hmac.compare_digest``), so timing tells nothing about a key. Keys are
never logged or shown. A gateway that listens beyond the loopback interface without keys
would hand every model to the network: ``check_exposure`` refuses to start it.
"""
from __future__ import annotations

import hmac
import ipaddress
import os
from pathlib import Path

from ..errors import ConfigError, InputError

__all__ = ['KEYS_ENV', 'ADMIN_KEYS_ENV', 'load_keys', 'load_admin_keys', 'authorized',
           'shown_key', 'management_refusal', 'check_exposure', 'is_loopback']

KEYS_ENV = 'LAZYLLM_GATEWAY_API_KEYS'
ADMIN_KEYS_ENV = 'LAZYLLM_GATEWAY_ADMIN_KEYS'


def _load(env: str, key_file: str | os.PathLike | None, what: str) -> tuple[str, ...]:
    keys = [k.strip() for k in os.environ.get(env, '').split(',') if k.strip()]
    if key_file is not None:
        try:
            text = Path(key_file).expanduser().read_text(encoding='utf-8')
        except OSError as e:
            raise ConfigError(f'cannot read the {what} file {key_file}: '
                              f'{e.strerror or e}.') from None
        keys += [ln.strip() for ln in text.splitlines()
                 if ln.strip() and not ln.lstrip().startswith('#')]
        if not keys:
            raise ConfigError(f'the {what} file {key_file} holds no key (one per line).')
    return tuple(dict.fromkeys(keys))


def load_keys(key_file: str | os.PathLike | None = None) -> tuple[str, ...]:
    """The API keys: ``LAZYLLM_GATEWAY_API_KEYS`` and the lines of ``key_file``."""
    return _load(KEYS_ENV, key_file, 'API key')


def load_admin_keys(key_file: str | os.PathLike | None = None) -> tuple[str, ...]:
    """The admin keys: ``LAZYLLM_GATEWAY_ADMIN_KEYS`` and the lines of ``key_file``."""
    return _load(ADMIN_KEYS_ENV, key_file, 'admin key')


def shown_key(header: str | bytes | None, keys: tuple[str, ...]) -> str | None:
    """The one of ``keys`` an ``Authorization: Bearer K`` header shows, or None."""
    text = header.decode('latin-1') if isinstance(header, bytes) else header or ''
    scheme, _, token = text.strip().partition(' ')
    given = token.strip().encode() if scheme.lower() == 'bearer' else b''
    found = None
    for key in keys:                       # every key compared: no early exit to time
        if hmac.compare_digest(given, key.encode()):
            found = key
    return found


def authorized(header: str | bytes | None, keys: tuple[str, ...]) -> bool:
    """Whether an ``Authorization`` header carries one of ``keys`` (any header when none)."""
    return not keys or shown_key(header, keys) is not None


def management_refusal(header: str | None, keys: tuple[str, ...],
                       admin_keys: tuple[str, ...]) -> tuple[int, str, str] | None:
    """Why a management call (``/v1/deployments``) is refused: (status, message, code), or
    None when it may go on. Without admin keys the normal keys decide, as for every route
    (the gateway's middleware checks them); with admin keys only one of those will do."""
    if not admin_keys or authorized(header, admin_keys):
        return None
    if keys and authorized(header, keys):
        return (403, 'this key may call the models but not manage deployments: the '
                'management API (/v1/deployments) needs an admin key (--admin-key-file).',
                'admin_key_required')
    return (401, 'missing or wrong admin key: the management API (/v1/deployments) needs '
            'Authorization: Bearer <admin key>.', 'invalid_api_key')


def is_loopback(host: str) -> bool:
    if host == 'localhost':
        return True
    try:
        return ipaddress.ip_address(host.strip('[]')).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, keys: tuple[str, ...]) -> None:
    if not keys and not is_loopback(host):
        raise InputError(f'refusing to serve on {host} without API keys: every model would be '
                         'open to the network. Give keys (--api-key-file FILE, or '
                         f'{KEYS_ENV}=k1,k2), or bind 127.0.0.1.')
