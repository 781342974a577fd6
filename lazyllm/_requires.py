"""What an engine or a finetune job needs installed, checked before any process starts.

One check for both (``Engine.check_installed``, ``FinetuneMethod.check_installed``), each
caller raising its own error class with its own install hint: a missing package is then said
in the caller's process, in one line, instead of as a traceback in a log a minute later.
"""
from __future__ import annotations

import importlib.util
import sys
from typing import Iterable

__all__ = ['missing_modules']


def missing_modules(modules: Iterable[str], python: str = sys.executable) -> list[str]:
    """The ``modules`` that ``python`` cannot import, found without importing them.

    Only this interpreter can be asked cheaply: for another one (an engine's own venv) the
    answer is ``[]``, and that process's log says what is missing."""
    if python != sys.executable:
        return []
    return [m for m in modules if not _findable(m)]


def _findable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):    # a dotted name whose parent is missing or broken
        return False
