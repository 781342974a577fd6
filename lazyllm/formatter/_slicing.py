"""The selection language shared by JsonFormatter and YamlFormatter.

An expression is a sequence of selectors, applied left to right:

=============  ===========================================================
``[i]``        item ``i`` of a list (negative counts from the end)
``[a,b]``      items ``a`` and ``b``, as a list
``[s:e:st]``   a slice, as a list (``[:]`` is the whole list)
``{k}``        the value of key ``k``
``{k1,k2}``    a dict of those keys
``{:}``        the whole dict
=============  ===========================================================

A selector that yields several items (every form but ``[i]`` and ``{k}``) *fans out*: the
selectors after it apply to each item, so ``[:]{name}`` is the list of every item's name and
``{a,b}[0]`` maps ``a`` and ``b`` to the first element of each. Whitespace is allowed
anywhere except inside numbers and key names. An expression is parsed once (a bad one is an
``InputError`` at construction, with the position); selecting what the data does not have is
a ``FormatError`` naming the selector and what the data has.
"""
from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

from ..errors import FormatError, InputError

_INT = re.compile(r'\s*[+-]?\d+\s*\Z')
_HELP = 'selectors look like [0], [-1], [0,2], [1:3], [:], {name}, {a,b}, {:}'


class _Miss(Exception):
    """Raised inside selection; Selection turns it into a FormatError with the expression."""


def _describe(data: Any) -> str:
    if isinstance(data, Mapping):
        keys = ', '.join(repr(k) for k in list(data)[:20])
        return f'a dict with keys {keys}' if keys else 'an empty dict'
    if isinstance(data, (list, tuple)):
        return f'a list of {len(data)} item{"" if len(data) == 1 else "s"}'
    text = repr(data)
    return f'a {type(data).__name__} ({text[:60]}{"..." if len(text) > 60 else ""})'


class _Selector:
    """One parsed selector. ``kind`` is index, indices, slice (list side) or key, keys, all
    (dict side); ``multi`` selectors fan out."""

    __slots__ = ('text', 'kind', 'arg')

    def __init__(self, text: str, kind: str, arg: Any):
        self.text, self.kind, self.arg = text, kind, arg

    on_dict = property(lambda self: self.kind in ('key', 'keys', 'all'))
    multi = property(lambda self: self.kind not in ('index', 'key'))

    def label(self, key: Any) -> str:
        return f'{{{key}}}' if self.on_dict else f'[{key}]'

    def pick(self, data: Any) -> list[tuple[Any, Any]]:
        """The selected (key or index, value) pairs of ``data``."""
        if self.on_dict:
            if not isinstance(data, Mapping):
                raise _Miss(f'needs a dict, but the data there is {_describe(data)} '
                            '(use [i] to pick from a list)')
            keys = list(data) if self.kind == 'all' else [self._key(data, k) for k in self.arg]
            return [(k, data[k]) for k in keys]
        if not isinstance(data, (list, tuple)):
            raise _Miss(f'needs a list, but the data there is {_describe(data)} '
                        '(use {key} to pick from a dict)')
        if self.kind == 'slice':
            return list(zip(range(len(data))[self.arg], data[self.arg]))
        for i in self.arg:
            if not -len(data) <= i < len(data):
                raise _Miss(f'is out of range: the data there is {_describe(data)}')
        return [(i % len(data), data[i]) for i in self.arg]

    def _key(self, data: Mapping, key: str) -> Any:
        if key in data:
            return key
        if _INT.match(key) and int(key) in data:      # YAML keys such as `1: first`
            return int(key)
        raise _Miss(f'finds no key {key!r}: the data there is {_describe(data)}')


def _parse_list(body: str, text: str, error) -> _Selector:
    def num(s: str, empty_ok: bool):
        if not s.strip() and empty_ok:
            return None
        if not _INT.match(s):
            error(f'{s.strip()!r} in {text} is not an integer')
        return int(s)
    if ':' in body:
        bounds = body.split(':')
        if len(bounds) > 3:
            error(f'{text} has more than two colons: use [start:stop] or [start:stop:step]')
        start, stop, step = [num(s, True) for s in bounds] + [None] * (3 - len(bounds))
        if step == 0:
            error(f'{text} has step 0: use a non-zero step')
        return _Selector(text, 'slice', slice(start, stop, step))
    indices = tuple(num(s, False) for s in body.split(','))
    return _Selector(text, 'indices' if ',' in body else 'index', indices)


def _parse_dict(body: str, text: str, error) -> _Selector:
    if body.strip() == ':':
        return _Selector(text, 'all', None)
    keys = tuple(k.strip() for k in body.split(','))
    if ':' in body or not all(keys):
        error(f'{text} is not a key list: use {{name}}, {{a,b}} or {{:}}')
    return _Selector(text, 'keys' if ',' in body else 'key', keys)


def parse(expr: str) -> tuple[_Selector, ...]:
    """Parse ``expr`` into selectors; raise InputError pointing at the bad position."""
    def error(message: str, at: int | None = None):
        at = start if at is None else at
        raise InputError(f'bad selection expression at position {at}: {message}; {_HELP}\n'
                         f'  {expr}\n  {" " * at}^')
    selectors, start = [], 0
    while start < len(expr):
        opener = expr[start]
        if opener.isspace():
            start += 1
            continue
        if opener not in '[{':
            error(f'expected [ or {{ but found {opener!r}')
        closer = ']' if opener == '[' else '}'
        end = start + 1
        while end < len(expr) and expr[end] != closer:
            if expr[end] in '[]{}':
                error(f'{expr[end]!r} inside {opener}...{closer}: close it with {closer!r} '
                      'first', end)
            end += 1
        if end == len(expr):
            error(f'{opener} is never closed: add {closer!r}')
        text, body = expr[start:end + 1], expr[start + 1:end]
        parser = _parse_list if opener == '[' else _parse_dict
        selectors.append(parser(body, text, error))
        start = end + 1
    return tuple(selectors)


class Selection:
    """A parsed expression; call it on data. Immutable, so safe to share between threads."""

    __slots__ = ('expr', '_selectors')

    def __init__(self, expr: str):
        if not isinstance(expr, str):
            raise InputError(f'the selection expression {expr!r} is not a str: pass a str '
                             "such as '[0]{name}', or None to keep everything")
        self.expr = expr
        self._selectors = parse(expr)

    def __call__(self, data: Any) -> Any:
        try:
            return _apply(self._selectors, data, '')
        except _Miss as e:
            raise FormatError(f'selection {self.expr!r} failed: {e}; fix the expression or '
                              'ask the model for output with that shape') from None


def _apply(selectors: Sequence[_Selector], data: Any, path: str) -> Any:
    if not selectors:
        return data
    sel, rest = selectors[0], selectors[1:]
    try:
        pairs = sel.pick(data)
    except _Miss as e:
        raise _Miss(f'selector {sel.text} at {path or "the top level"} {e}') from None
    results = [(k, _apply(rest, v, path + sel.label(k))) for k, v in pairs]
    if not sel.multi:
        return results[0][1]
    return dict(results) if sel.on_dict else [v for _, v in results]
