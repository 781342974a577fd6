"""Names in the words users read and the files they find.

``safe_name``: one rule for names that become parts of file names and registry keys (job
logs, finetune run folders, deployment names): letters, digits, ``.``, ``_`` and ``-`` only,
short, and never starting or ending with a separator. ``article``: "a" or "an" before a
name in a message ("an int", "an LLM deployment")."""
from __future__ import annotations

import re

__all__ = ['safe_name', 'article']

_UNSAFE = re.compile(r'[^A-Za-z0-9._-]+')


def safe_name(text: str, limit: int, default: str) -> str:
    """``text`` as a safe component of at most ``limit`` characters (``default`` if none
    is left)."""
    return _UNSAFE.sub('_', text).strip('._-')[:limit].rstrip('._-') or default


_LETTER_VOWELS = set('aefhilmnorsx')   # letters whose spoken name starts with a vowel sound
_SAID_AS_WORDS = {'str'}


def article(word: str) -> str:
    """``a`` or ``an`` for ``word``: an initialism (all consonants: llm, stt, vlm) by how its
    first letter is spoken ("an LLM", "a VLM"), a word by its first letter ("an embed", "an
    int"); ``str`` is said as a word ("a str")."""
    w = word.lower()
    if w and not set(w) & set('aeiouy') and w not in _SAID_AS_WORDS:
        return 'an' if w[0] in _LETTER_VOWELS else 'a'
    return 'an' if w[:1] in set('aeiou') else 'a'
