"""Engine identity: how lazyllm knows the process answering on a port is the engine it launched.

lazyllm picks a free port, then the engine binds it, some seconds later. Any local process
that binds the port in between would otherwise be taken for the engine: readiness would
accept its ``/health`` and calls (prompts, and the API key) would go to it. So every launch
gets a random token, given to the engine in ``TOKEN_ENV``; an engine that
``reports_identity`` answers every response with it in ``TOKEN_HEADER``, and lazyllm
accepts a ``/health`` only with the right token. The built-in servers read the variable in
``servers/_app.py``; vLLM loads the standalone middleware in ``_plugins/``.

The launch also says, in ``DRAIN_ENV``, how many seconds the engine may take at SIGTERM to
finish the calls it is answering (a blue-green swap stops the replaced engine that way).
"""
from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import Mapping

__all__ = ['DRAIN_ENV', 'TOKEN_ENV', 'TOKEN_HEADER', 'PLUGINS_DIR', 'new_token', 'is_ours']

TOKEN_ENV = 'LAZYLLM_ENGINE_TOKEN'
TOKEN_HEADER = 'x-lazyllm-engine-token'
DRAIN_ENV = 'LAZYLLM_DRAIN_TIMEOUT'
PLUGINS_DIR = Path(__file__).with_name('_plugins')   # importable without lazyllm installed


def new_token() -> str:
    return secrets.token_urlsafe(18)


def is_ours(headers: Mapping[str, str], token: str) -> bool:
    """Whether a response carries ``token`` (compared in constant time)."""
    return hmac.compare_digest(headers.get(TOKEN_HEADER, '').encode(), token.encode())
