"""Who may call the gateway: API keys, and the rule that keeps an open gateway local.

Keys come from a file (one per line, ``#`` comments) and the ``LAZYLLM_GATEWAY_API_KEYS``
environment variable (comma-separated). A request shows one as ``Authorization: Bearer K``
(what the OpenAI SDKs send); it is compared with every key in constant time
(``hmac.compare_digest``), so timing tells nothing about a key. Keys are never logged or
shown. A gateway that listens beyond the loopback interface without keys would hand every
model to the network: ``check_exposure`` refuses to start it.
"""
from __future__ import annotations

import hmac
import ipaddress
import os
from pathlib import Path

from ..errors import ConfigError, InputError

__all__ = ['KEYS_ENV', 'load_keys', 'authorized', 'check_exposure', 'is_loopback']

KEYS_ENV = 'LAZYLLM_GATEWAY_API_KEYS'


def load_keys(key_file: str | os.PathLike | None = None) -> tuple[str, ...]:
    keys = [k.strip() for k in os.environ.get(KEYS_ENV, '').split(',') if k.strip()]
    if key_file is not None:
        try:
            text = Path(key_file).expanduser().read_text(encoding='utf-8')
        except OSError as e:
            raise ConfigError(f'cannot read the API key file {key_file}: '
                              f'{e.strerror or e}.') from None
        keys += [ln.strip() for ln in text.splitlines()
                 if ln.strip() and not ln.lstrip().startswith('#')]
        if not keys:
            raise ConfigError(f'the API key file {key_file} holds no key (one per line).')
    return tuple(dict.fromkeys(keys))


def authorized(header: str | None, keys: tuple[str, ...]) -> bool:
    """Whether an ``Authorization`` header carries one of ``keys`` (any header when none)."""
    if not keys:
        return True
    scheme, _, token = (header or '').strip().partition(' ')
    given = token.strip().encode() if scheme.lower() == 'bearer' else b''
    found = False
    for key in keys:                       # every key compared: no early exit to time
        found |= hmac.compare_digest(given, key.encode())
    return found


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
