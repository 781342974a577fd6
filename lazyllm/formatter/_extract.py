"""Find the JSON a model wrote inside free text, repairing what is almost JSON.

Models wrap JSON in prose and code fences, and small or truncated models write JSON that is
not quite valid: single quotes, bare keys (``{name: "a"}``), trailing commas, Python's
``True``/``None``, or an object cut off by the token limit. We scan the text for ``{`` and
``[``; at each one ``json.JSONDecoder.raw_decode`` reads a valid value (braces inside strings
are fine). When that fails, the candidate up to the matching bracket (or to the end of the
text, when it was cut off) is repaired with the maintained ``json-repair`` library, but only
when it *looks like* JSON: every bare word in it must be a JSON literal (a number, ``true``,
``null``...) or a key followed by ``:``. So ``{name: "Charlie"}`` is repaired while prose in
brackets (``[see above]``, ``{not json}``) is skipped instead of turned into data. A repaired
value must also be the kind its bracket opens (an object for ``{``, an array for ``[``).

When the text has ```json fences, only their contents are scanned, so bracketed prose such as
a citation ``[1]`` is not mistaken for JSON.
"""
from __future__ import annotations

import json
import re
from typing import Any

from ..errors import ConfigError

_DECODER = json.JSONDecoder()
_FENCE = re.compile(r'```[ \t]*json[ \t]*\n(.*?)```', re.DOTALL | re.IGNORECASE)
_START = re.compile(r'[{\[]')
_WORD = re.compile(r'[^\s{}\[\],:"]+')
_LITERAL = re.compile(r'[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|true|false|null|True|False|None'
                      r'|NaN|-?Infinity')
_LITERALS = ('true', 'false', 'null', 'True', 'False', 'None')
_MAX_REPAIRS = 64        # repair attempts per text
_LEX_BUDGET = 400_000    # characters walked looking at candidates, per text: both bound the
                         # work on long bracket-heavy prose (valid JSON is always read)


def _skip_string(text: str, i: int) -> int:
    """The index after the string that starts at ``text[i]`` (its end, if unterminated)."""
    quote, i = text[i], i + 1
    while i < len(text) and text[i] != quote:
        i += 2 if text[i] == '\\' else 1
    return i + 1


def _lex(text: str, start: int, stop: int) -> tuple[int, list[tuple[str, str]], bool]:
    """Walk the candidate opened at ``text[start]``: (its end, its bare words each with the
    next significant character, whether it was closed). Strings are skipped; a single quote
    starts a string only where a value can start, so an apostrophe in prose does not. The
    walk ends at ``stop``."""
    depth, i, previous = 0, start, ''
    words: list[tuple[str, str]] = []
    while i < stop:
        c = text[i]
        if c == '"' or (c == "'" and previous in ('{', '[', ',', ':')):
            i, previous = _skip_string(text, i), c
            continue
        if c in '{[':
            depth += 1
        elif c in '}]':
            depth -= 1
            if depth == 0:
                return i + 1, words, True
        elif not c.isspace() and c not in ',:':
            word = _WORD.match(text, i)
            assert word is not None   # c is neither space, bracket, quote, comma nor colon
            end = word.end()
            rest = text[end:].lstrip()
            words.append((text[i:end], rest[:1]))
            i, previous = end, text[end - 1]
            continue
        if not c.isspace():
            previous = c
        i += 1
    return min(i, len(text)), words, False


def _truncated_literal(word: str) -> str | None:
    """The literal a word cut off by the end of the output was (``tru`` -> ``true``)."""
    return next((lit for lit in _LITERALS if lit.startswith(word)), None)


def _looks_like_json(words: list[tuple[str, str]], closed: bool) -> bool:
    for n, (word, follower) in enumerate(words):
        if follower == ':' or _LITERAL.fullmatch(word):
            continue
        if closed or n < len(words) - 1 or follower or not _truncated_literal(word):
            return False
    return True


def _repair(candidate: str) -> Any:
    try:
        import json_repair
    except ImportError as e:    # a declared dependency; only a broken install lacks it
        raise ConfigError('the json-repair package is missing: pip install json-repair '
                          '(lazyllm needs it to read almost-JSON model output)') from e
    try:
        return json_repair.loads(candidate)
    except Exception:    # noqa: BLE001 - a candidate it cannot repair is simply not JSON
        return None


def _scan(text: str) -> list[Any]:
    values, pos, repairs, budget = [], 0, 0, _LEX_BUDGET
    while (m := _START.search(text, pos)) is not None:
        start = m.start()
        try:
            value, pos = _DECODER.raw_decode(text, start)
            values.append(value)
            continue
        except (json.JSONDecodeError, RecursionError):    # RecursionError: absurd nesting
            pass
        pos = start + 1
        if budget <= 0 or repairs >= _MAX_REPAIRS:
            continue
        end, words, closed = _lex(text, start, min(len(text), start + budget))
        budget -= end - start
        if (closed or end == len(text)) and _looks_like_json(words, closed):
            repairs += 1
            candidate = text[start:end].rstrip()
            if not closed and words and not _LITERAL.fullmatch(words[-1][0]) \
                    and candidate.endswith(words[-1][0]):     # complete `tru` to `true`
                word = words[-1][0]
                literal = _truncated_literal(word)
                assert literal is not None    # _looks_like_json accepted only such a last word
                candidate = candidate[:-len(word)] + literal
            value = _repair(candidate)
            if isinstance(value, dict if text[start] == '{' else list) and value:
                values.append(value)
                pos = end
    return values


def extract_json(text: str) -> list[Any]:
    """Every top-level JSON object or array in ``text``, in order, almost-JSON repaired (an
    empty list if there is none)."""
    fenced = [v for block in _FENCE.findall(text) for v in _scan(block)]
    return fenced or _scan(text)
