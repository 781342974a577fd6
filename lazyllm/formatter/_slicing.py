"""The selection language of JsonLikeFormatter, JsonFormatter and YamlFormatter (LazyLLM's).

An expression is a sequence of selectors, applied left to right:

===============  ==============================================================
``[i]``          item ``i`` of a list or tuple (negative counts from the end)
``[key]``        the value of ``key`` in a dict
``[a,b]``        items ``a`` and ``b``: of a list/tuple, a list/tuple; of a dict, the list
                 of their values
``[s:e:st]``     a slice of a list/tuple (of the same type) or of a str
``[:]``          every item: of a list/tuple, all of it; of a dict, the list of its values
``{k}``          the sub-dict ``{k: value}``
``{k1,k2}``      the sub-dict of those keys
``{:}``          the whole dict
===============  ==============================================================

A selector that gives several items (every form but ``[i]`` / ``[key]``) *fans out*: the
selectors after it apply to each item, so ``[:][name]`` is the list of every item's name and
``{a,b}[0]`` maps ``a`` and ``b`` to the first element of each. ``*`` before the first
``[`` makes ``[a,b]`` selections return a ``lazyllm.package`` (so a flow passes the items on
as separate arguments). Tuples and packages keep their type through ``[a,b]`` and slices.

An expression is parsed once (a bad one is an ``InputError`` at construction, with the
position); selecting what the data does not have is a ``FormatError`` naming the selector
and what the data has there.
"""
from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

from .._package import package
from ..errors import FormatError, InputError

_INT = re.compile(r'\s*[+-]?\d+\s*\Z')
_HELP = ('selectors look like [0], [-1], [name], [0,2], [a,b], [1:3], [:], {name}, {a,b}, '
         '{:}, with an optional * before the first [')


class _Miss(Exception):
    """Raised inside selection; Selection turns it into a FormatError with the expression."""


def _describe(data: Any) -> str:
    if isinstance(data, Mapping):
        keys = ', '.join(repr(k) for k in list(data)[:20])
        return f'a dict with keys {keys}' if keys else 'an empty dict'
    if isinstance(data, (list, tuple)):
        kind = 'package' if isinstance(data, package) else type(data).__name__
        return f'a {kind} of {len(data)} item{"" if len(data) == 1 else "s"}'
    text = repr(data)
    return f'a {type(data).__name__} ({text[:60]}{"..." if len(text) > 60 else ""})'


def _index(data: Sequence, token: str) -> int:
    if not _INT.match(token):
        raise _Miss(f'needs an integer index on {_describe(data)}, not {token!r}')
    i = int(token)
    if not -len(data) <= i < len(data):
        raise _Miss(f'index {i} is out of range: the data there is {_describe(data)}')
    return i


def _key(data: Mapping, token: str) -> Any:
    if token in data:
        return token
    if _INT.match(token) and int(token) in data:      # YAML keys such as `1: first`
        return int(token)
    raise _Miss(f'finds no key {token!r}: the data there is {_describe(data)}')


def _same_kind(data: Sequence, items: list) -> Sequence:
    """``items`` in a sequence of ``data``'s type (a package stays a package)."""
    if isinstance(data, package):
        return package(items)
    kind: Any = type(data)    # a concrete sequence type, called with one iterable
    if kind in (list, tuple):
        return kind(items)
    try:
        return kind(items)
    except TypeError:        # e.g. a namedtuple: its constructor takes fields, not a list
        return tuple(items) if isinstance(data, tuple) else list(items)


class _Selector:
    """One parsed selector. ``kind``: ``item`` ([i] / [key]), ``items`` ([a,b]), ``slice``,
    ``keys`` ({a,b}) or ``all_keys`` ({:})."""

    __slots__ = ('text', 'kind', 'arg')

    def __init__(self, text: str, kind: str, arg: Any):
        self.text, self.kind, self.arg = text, kind, arg


def _parse_bracket(body: str, text: str, error) -> _Selector:
    if ':' in body:
        if ',' in body:
            error(f'{text} mixes a slice and a list: use [a,b] or [start:stop], not both')
        bounds = body.split(':')
        if len(bounds) > 3:
            error(f'{text} has more than two colons: use [start:stop] or [start:stop:step]')
        numbers: list[int | None] = []
        for bound in bounds:
            bound = bound.strip()
            if bound in ('', 'None'):
                numbers.append(None)
            elif _INT.match(bound):
                numbers.append(int(bound))
            else:
                error(f'{bound!r} in {text} is not an integer: slice bounds are integers, '
                      'empty or None')
        start, stop, step = numbers + [None] * (3 - len(numbers))
        if step == 0:
            error(f'{text} has step 0: use a non-zero step')
        return _Selector(text, 'slice', slice(start, stop, step))
    tokens = [t.strip() for t in body.split(',')]
    if ',' in body:
        tokens = [t for t in tokens if t]
        if not tokens:
            error(f'{text} names no item: put indices or keys between the commas')
        return _Selector(text, 'items', tuple(tokens))
    if not tokens[0]:
        error(f'{text} is empty: put an index or a key inside, or use [:] for everything')
    return _Selector(text, 'item', tokens[0])


def _parse_brace(body: str, text: str, error) -> _Selector:
    keys = [k.strip() for k in body.split(',') if k.strip()]
    if not keys:
        error(f'{text} names no key: use {{name}}, {{a,b}} or {{:}}')
    if keys == [':']:
        return _Selector(text, 'all_keys', None)
    if ':' in keys:
        error(f'{text} mixes {{:}} with keys: use {{:}} alone for the whole dict')
    return _Selector(text, 'keys', tuple(keys))


def parse(expr: str) -> tuple[bool, tuple[_Selector, ...]]:
    """Parse ``expr`` into (returns a package, selectors); an InputError points at the bad
    position."""
    def error(message: str, at: int | None = None):
        at = start if at is None else at
        raise InputError(f'bad selection expression at position {at}: {message}; {_HELP}\n'
                         f'  {expr}\n  {" " * at}^')
    start = len(expr) - len(expr.lstrip())
    star = expr.startswith('*', start)
    if star:
        start += 1
        while start < len(expr) and expr[start].isspace():
            start += 1
        if not expr.startswith('[', start):
            error("'*' goes only right before the first [, e.g. '*[0,1]'")
    selectors: list[_Selector] = []
    while start < len(expr):
        opener = expr[start]
        if opener.isspace():
            start += 1
            continue
        if opener == '*':
            error("'*' goes only at the very beginning, before the first [")
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
        parser = _parse_bracket if opener == '[' else _parse_brace
        selectors.append(parser(body, text, error))
        start = end + 1
    return star, tuple(selectors)


class Selection:
    """A parsed expression; call it on data. Immutable, so safe to share between threads."""

    __slots__ = ('expr', '_star', '_selectors')

    def __init__(self, expr: str):
        if not isinstance(expr, str):
            raise InputError(f'the selection expression {expr!r} is not a str: pass a str '
                             "such as '[0][name]', or None to keep everything")
        self.expr = expr
        self._star, self._selectors = parse(expr)

    def __call__(self, data: Any) -> Any:
        try:
            return self._apply(self._selectors, data, '')
        except _Miss as e:
            raise FormatError(f'selection {self.expr!r} failed: {e}; fix the expression or '
                              'ask the model for output with that shape') from None

    def _apply(self, selectors: Sequence[_Selector], data: Any, path: str) -> Any:
        if not selectors:
            return data
        sel, rest = selectors[0], selectors[1:]
        try:
            return self._select(sel, rest, data, path)
        except _Miss as e:
            if str(e).startswith('selector '):
                raise
            raise _Miss(f'selector {sel.text} at {path or "the top level"} {e}') from None

    def _select(self, sel: _Selector, rest: Sequence[_Selector], data: Any, path: str) -> Any:
        def each(pairs):
            return [self._apply(rest, value, f'{path}[{label}]') for label, value in pairs]
        is_dict, is_seq = isinstance(data, Mapping), isinstance(data, (list, tuple))
        if sel.kind in ('keys', 'all_keys'):
            if not is_dict:
                raise _Miss(f'needs a dict, but the data there is {_describe(data)} '
                            '(use [i] to pick from a list)')
            keys = list(data) if sel.kind == 'all_keys' else [_key(data, k) for k in sel.arg]
            return {k: self._apply(rest, data[k], f'{path}[{k}]') for k in keys}
        if sel.kind == 'item':
            if is_dict:
                k = _key(data, sel.arg)
            elif is_seq:
                k = _index(data, sel.arg)
            else:
                raise _Miss(f'needs a list or a dict, but the data there is {_describe(data)}')
            return self._apply(rest, data[k], f'{path}[{k}]')
        if sel.kind == 'items':
            if is_dict:
                values = each((k, data[k]) for k in [_key(data, t) for t in sel.arg])
                return package(values) if self._star else values
            if is_seq:
                values = each((i, data[i]) for i in [_index(data, t) for t in sel.arg])
                return package(values) if self._star else _same_kind(data, values)
            raise _Miss(f'needs a list or a dict, but the data there is {_describe(data)}')
        # a slice
        if is_dict:
            if sel.arg != slice(None):
                raise _Miss('slices a dict: only [:] applies to a dict (the list of its '
                            'values); use [a,b] or {a,b} to pick keys')
            values = each(data.items())
            return package(values) if self._star else values
        if is_seq:
            indices = range(len(data))[sel.arg]
            return _same_kind(data, each((i, data[i]) for i in indices))
        if isinstance(data, str):
            return self._apply(rest, data[sel.arg], path + sel.text)
        raise _Miss(f'needs a list, a dict or a str, but the data there is {_describe(data)}')
