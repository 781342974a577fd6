"""Keep secrets out of logs, reprs and error messages (DESIGN rule 9)."""
from __future__ import annotations

import re
from typing import Iterable

_MASK = '***'
# Query parameters and headers that carry credentials in the URLs users paste.
_SECRET_PARAM = re.compile(r'(?i)([?&](?:api[_-]?key|key|token|access_token|secret)=)[^&#\s]+')
_BEARER = re.compile(r'(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{4,}')


def mask(secret: str | None) -> str:
    """A printable stand-in for a secret: shows only that one is set."""
    return _MASK if secret else '(not set)'


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with every given secret, credential query parameter and bearer token masked."""
    for s in secrets:
        if s and len(s) >= 4:
            text = text.replace(s, _MASK)
    text = _SECRET_PARAM.sub(lambda m: m.group(1) + _MASK, text)
    return _BEARER.sub(lambda m: m.group(1) + _MASK, text)
