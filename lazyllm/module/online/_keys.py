"""Which supplier a module talks to, and with which key.

The order, first match wins:

1. ``source=`` names the supplier; its key is ``api_key=``, else the setting
   ``<source>_api_key`` (``LAZYLLM_<SOURCE>_API_KEY`` or the config file).
2. No source: ``LAZYLLM_DEFAULT_SOURCE`` names it, with its key as above.
3. No source but ``base_url=``: an OpenAI-compatible endpoint (a lazyllm deployment, vLLM),
   with ``api_key=`` or no key: no stored key is sent to a URL the user typed unless the
   user also named its source (``source='openai', base_url=…`` sends the OpenAI key).
4. Otherwise the first supplier of the table that has a key.

A key is required only for a supplier's own cloud URL; an endpoint given by ``base_url``
may need none. Nothing here does I/O, and no key ever reaches a message.
"""
from __future__ import annotations

from typing import Any

from ..._config import config
from ...errors import ConfigError, InputError
from ._suppliers import Supplier, get_supplier, suppliers

__all__ = ['choose_supplier']


def _key_of(supplier: Supplier) -> str | None:
    return config[supplier.key_setting] or None


def _no_key(supplier: Supplier | None) -> ConfigError:
    if supplier is not None:
        where = f' (get one at {supplier.signup})' if supplier.signup else ''
        return ConfigError(f'no API key for {supplier.name}: set {supplier.key_env} or pass '
                           f'api_key={where}; or pass base_url= for an endpoint that needs none')
    names = ', '.join(dict.fromkeys(s.key_env for s in suppliers.values()))
    return ConfigError(f'no online source has an API key: set one of {names} (or '
                       f'LAZYLLM_DEFAULT_SOURCE and its key), or pass source= and api_key=, or '
                       f'base_url= for an OpenAI-compatible endpoint of your own')


def choose_supplier(source: Any, api_key: Any, base_url: Any) -> tuple[Supplier, str | None, str]:
    """(supplier, key or None, why) for a module's ``source``/``api_key``/``base_url``."""
    if api_key is not None and (not isinstance(api_key, str) or not api_key.strip()):
        raise InputError('api_key must be a non-empty str: pass the key text, or leave it out '
                         'to read the key variable of the source')
    if source is not None:
        supplier = get_supplier(source)
        key = api_key or _key_of(supplier)
        why = f'source={supplier.name!r}'
    elif config['default_source']:
        supplier = get_supplier(config['default_source'])
        key = api_key or _key_of(supplier)
        why = f'LAZYLLM_DEFAULT_SOURCE={supplier.name}'
    elif base_url is not None:
        supplier, key = get_supplier('openai'), api_key
        why = 'base_url= without source=: an OpenAI-compatible endpoint'
    elif api_key is not None:
        raise InputError('api_key= was given without source=: name the supplier it belongs to '
                         f'(one of {", ".join(suppliers)}), or pass base_url= too')
    else:
        found = next(((s, k) for s in suppliers.values() if (k := _key_of(s))), None)
        if found is None:
            raise _no_key(None)
        supplier, key = found
        why = f'the first source with a key ({supplier.key_env})'
    if key is None and base_url is None:
        raise _no_key(supplier)
    return supplier, key, why
