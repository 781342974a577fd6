"""One rule for names that become parts of file names and registry keys (job logs, finetune
run folders, deployment names): letters, digits, ``.``, ``_`` and ``-`` only, short, and
never starting or ending with a separator."""
from __future__ import annotations

import re

__all__ = ['safe_name']

_UNSAFE = re.compile(r'[^A-Za-z0-9._-]+')


def safe_name(text: str, limit: int, default: str) -> str:
    """``text`` as a safe component of at most ``limit`` characters (``default`` if none
    is left)."""
    return _UNSAFE.sub('_', text).strip('._-')[:limit].rstrip('._-') or default
