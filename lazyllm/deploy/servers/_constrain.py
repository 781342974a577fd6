"""Constrained decoding: structured output and forced tool calls, one grammar state per row.

A request with ``response_format`` (json_object / json_schema) or a forced ``tool_choice``
gets a grammar; each step its row's logits are masked (disallowed tokens to -inf) so it can
only write what the grammar accepts, and the sampled token advances the grammar. Other rows
of the batch are untouched. JSON is compact (``", "``/``": "``, no free whitespace: a small
model cannot loop on spaces) and objects get no properties the schema does not list.

xgrammar (0.2.9 tested) silently ignores some JSON-schema keywords or weakens them, which
would let output fail the schema we claim to enforce, so ``check_schema`` refuses them with a
``ConstraintError`` naming the keyword and its location:

- ``not``, ``if``/``then``/``else``, ``dependentRequired``, ``dependentSchemas``,
  ``dependencies``, ``contains``/``minContains``/``maxContains``, ``uniqueItems: true``,
  ``$dynamicRef``, ``$recursiveRef``; a ``$ref`` other than ``#``/``#/...`` (not resolved);
- ``allOf`` with several schemas (not combined); ``oneOf`` whose branches may overlap (run
  as anyOf), i.e. unless they differ by type or by a required const/enum discriminator;
- ``anyOf``/``oneOf``/``allOf``/``$ref``/``enum``/``const`` beside other assertions (those
  are ignored), except a ``type`` that every value or branch already has;
- a ``required`` name not in ``properties``, ``multipleOf`` on non-integers, a ``pattern``
  with lookarounds or inline flags ``(?i)``, a ``format`` not in ``FORMATS``, and
  ``minLength``/``maxLength`` beside ``pattern``/``format``.

What xgrammar itself rejects (backreferences, ``\\b``, ``\\p{..}``, ``false``, min > max)
becomes a ConstraintError with its reason. Masking costs at most ~0.2 ms per row at 49152
tokens (filling the bitmask ~0.01 ms, applying it ~0.2 ms when few tokens are allowed), the
same per row as one batched bitmask, so rows are masked one by one (``RowConstraint.mask``).
"""
from __future__ import annotations

import json
import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

try:
    import xgrammar as xgr
except ImportError:  # reported when a Grammars is built: only constrained requests need it
    xgr = None
if TYPE_CHECKING:
    from ._tool_parsers import ToolFormat

FORMATS = frozenset({
    'email', 'date', 'time', 'date-time', 'duration', 'uri', 'uri-reference', 'uri-template',
    'uuid', 'ipv4', 'ipv6', 'hostname', 'json-pointer', 'relative-json-pointer'})
_IGNORED = ('not', 'if', 'then', 'else', 'dependentRequired', 'dependentSchemas',
            'dependencies', 'contains', 'minContains', 'maxContains', 'uniqueItems',
            '$dynamicRef', '$recursiveRef')
_ASSERTIONS = frozenset({
    'type', 'enum', 'const', 'properties', 'required', 'additionalProperties',
    'patternProperties', 'propertyNames', 'unevaluatedProperties', 'minProperties',
    'maxProperties', 'items', 'prefixItems', 'additionalItems', 'unevaluatedItems', 'minItems',
    'maxItems', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf',
    'minLength', 'maxLength', 'pattern', 'format', 'anyOf', 'oneOf', 'allOf', '$ref'})
_ONE = ('additionalProperties', 'propertyNames', 'unevaluatedProperties', 'items',
        'additionalItems', 'unevaluatedItems')
_MANY = ('properties', 'patternProperties', '$defs', 'definitions')
_LIST = ('anyOf', 'oneOf', 'allOf', 'prefixItems')
_REGEX_UNSUPPORTED = re.compile(r'(?<!\\)\(\?(?:<?[=!]|[a-zA-Z-]+[:)])')
_LOG_PREFIX = re.compile(r'^(\[[^\]]*\]\s*)?\S+:\d+:\s*')   # "[12:00:00] /x/y.cc:94: "
_CACHE_SIZE = 256


class ConstraintError(ValueError):
    """A schema/format the grammar library cannot enforce. ``param`` names the request field
    ('response_format', 'tools' or 'tool_choice'); the message says which feature and what
    to do instead."""

    def __init__(self, param: str, message: str):
        super().__init__(message)
        self.param = param


# -- the schema check ---------------------------------------------------------------------
def _type_of(value: Any) -> str:
    return {type(None): 'null', bool: 'boolean', int: 'integer', float: 'number', str: 'string',
            list: 'array'}.get(type(value), 'object')


def _fits(value: Any, types: str | list) -> bool:
    t, types = _type_of(value), [types] if isinstance(types, str) else types
    return t in types or (t == 'integer' and 'number' in types) or (
        t == 'number' and 'integer' in types and float(value).is_integer())


def _consts(s: dict) -> list | None:
    return [s['const']] if 'const' in s else s['enum'] if isinstance(s.get('enum'), list) else None


def _types(s: dict) -> set[str] | None:
    """The JSON types ``s`` can produce (None: unknown); integer and number overlap."""
    if (values := _consts(s)) is not None:
        out = {_type_of(v) for v in values}
    elif isinstance(s.get('type'), (str, list)):
        out = {s['type']} if isinstance(s['type'], str) else set(s['type'])
    else:
        return None
    return out | {'number', 'integer'} if out & {'number', 'integer'} else out


def _values(s: Any) -> set[str] | None:
    values = _consts(s) if isinstance(s, dict) else None
    return None if values is None else {json.dumps(v, sort_keys=True) for v in values}


def _resolve(s: Any, root: Any) -> Any:
    """Follow local ``$ref``s (``#/$defs/X``) to the schema they name."""
    for _ in range(16):
        ref = s.get('$ref') if isinstance(s, dict) else None
        if not isinstance(ref, str) or not ref.startswith('#'):
            return s
        s = root
        for part in (ref[2:].split('/') if len(ref) > 1 else []):
            part = part.replace('~1', '/').replace('~0', '~')
            s = s.get(part) if isinstance(s, dict) else None
    return s


def _disjoint(a: Any, b: Any) -> bool:
    """True when no value can match both ``a`` and ``b`` (by type, const/enum values, or a
    required property with distinct const/enum values in each: a discriminator)."""
    if not (isinstance(a, dict) and isinstance(b, dict)):
        return False
    ta, tb = _types(a), _types(b)
    va, vb = _values(a), _values(b)
    if (ta is not None and tb is not None and not ta & tb) or (va and vb and not va & vb):
        return True
    pa, pb = a.get('properties') or {}, b.get('properties') or {}
    both = set(a.get('required') or ()) & set(b.get('required') or ()) & pa.keys() & pb.keys()
    return any((x := _values(pa[k])) and (y := _values(pb[k])) and not x & y for k in both)


def _typed_within(s: dict, k: str, root: Any) -> bool:
    """Whether the sibling ``type`` of ``k`` adds nothing: every value or branch has it."""
    if k in ('enum', 'const'):
        return all(_fits(v, s['type']) for v in _consts(s) or ())
    allowed = _types({'type': s['type']}) or set()
    for b in [s] if k == '$ref' else s[k] if isinstance(s[k], list) else []:
        t = _types(_resolve({'$ref': b['$ref']} if k == '$ref' else b, root) or {})
        if t is None or not t <= allowed:
            return False
    return True


def check_schema(schema: Any, param: str) -> None:
    """Raise ConstraintError for the first keyword of ``schema`` that xgrammar would not
    enforce (see the module docstring), or when it is not a well-formed schema."""
    try:
        _check(schema, param, schema, '#')
    except (TypeError, AttributeError, KeyError) as e:
        raise ConstraintError(param, f'{param}: malformed JSON schema ({type(e).__name__}: {e}); '
                                     'send an object schema as JSON Schema defines it') from None


def _check(s: Any, param: str, root: Any, where: str) -> None:
    if not isinstance(s, dict):
        return

    def refuse(feature: str, fix: str) -> None:
        raise ConstraintError(param, f'{param}: {feature} (at {where}) cannot be enforced by '
                                     f'constrained decoding; {fix}')
    for k in _IGNORED:
        if k in s and (k != 'uniqueItems' or s[k]):
            refuse(f"'{k}'", 'remove it, or check it after generation')
    ref = s.get('$ref')
    if ref is not None and not (isinstance(ref, str) and (ref == '#' or ref.startswith('#/'))):
        refuse(f'$ref {ref!r}', "only local references ('#/$defs/...') are resolved: inline it")
    for k in ('anyOf', 'oneOf', 'allOf', '$ref', 'enum', 'const'):
        extra = (_ASSERTIONS & s.keys()) - {k}
        if k in s and extra and not (extra == {'type'} and _typed_within(s, k, root)):
            refuse(f"'{k}' beside {sorted(extra)} (xgrammar ignores the latter)",
                   f"move {sorted(extra)} into the '{k}' schemas")
    if len(s.get('allOf') or ()) > 1:
        refuse("'allOf' with several schemas", 'merge them into one schema')
    branches = [_resolve(b, root) for b in s.get('oneOf') or ()]
    if any(not _disjoint(a, b) for i, a in enumerate(branches) for b in branches[i + 1:]):
        refuse("'oneOf' whose branches may overlap", "use 'anyOf', or give each branch a "
               "required property with a distinct 'const' (a discriminator)")
    missing = [r for r in s.get('required') or () if r not in (s.get('properties') or {})]
    if missing:
        refuse(f"'required' {missing} not defined in 'properties'", 'define them in properties')
    if 'multipleOf' in s and s.get('type') != 'integer':
        refuse("'multipleOf' on non-integers", "use it with 'type': 'integer' only")
    pattern = s.get('pattern')
    if pattern is not None and (not isinstance(pattern, str) or _REGEX_UNSUPPORTED.search(pattern)):
        refuse(f"'pattern' {pattern!r} (lookarounds and inline flags are not supported)",
               'rewrite it without (?=, (?!, (?<=, (?<! and (?i)')
    if 'format' in s and str(s['format']) not in FORMATS:
        refuse(f"'format' {s['format']!r}", f'use one of {sorted(FORMATS)}, or a pattern')
    if ('pattern' in s or 'format' in s) and ('minLength' in s or 'maxLength' in s):
        refuse("'minLength'/'maxLength' beside 'pattern'/'format'", 'fold the length into the '
               'pattern, e.g. ^[a-z]{1,8}$')
    for k in _ONE:
        _check(s.get(k), param, root, f'{where}/{k}')
    for k in _MANY + _LIST:
        v = s.get(k)
        for name, sub in v.items() if isinstance(v, dict) else enumerate(v or ()):
            _check(sub, param, root, f'{where}/{k}/{name}')


# -- compiling ------------------------------------------------------------------------------
@dataclass(eq=False)
class Compiled:
    """A grammar compiled for one tokenizer, shared by every request that uses it."""
    grammar: Any                     # xgrammar.CompiledGrammar
    stop: torch.Tensor               # the stop tokens as a bitmask row
    key: str


class Grammars:
    """Compiles grammars for one tokenizer; thread-safe; caches compiled grammars (the last
    256) by their JSON key, so a schema sent with every request is compiled once."""

    def __init__(self, tokenizer: Any, vocab_size: int, stop_token_ids: list[int]):
        if xgr is None:
            raise ImportError('structured output needs xgrammar: pip install xgrammar')
        self.tokenizer, self.vocab_size = tokenizer, vocab_size
        self.info = xgr.TokenizerInfo.from_huggingface(
            tokenizer, vocab_size=vocab_size, stop_token_ids=list(stop_token_ids) or None)
        self.compiler = xgr.GrammarCompiler(self.info, max_threads=min(8, os.cpu_count() or 1))
        words = [0] * xgr.get_bitmask_shape(1, vocab_size)[1]
        for t in self.info.stop_token_ids:
            words[t // 32] |= 1 << (t % 32)
        self.stop = torch.tensor([w - (w >> 31 << 32) for w in words], dtype=torch.int32)
        self._cache: OrderedDict[str, Compiled] = OrderedDict()
        self._lock = threading.Lock()

    def _get(self, key: str, param: str, build) -> Compiled:
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        try:            # outside the lock: one slow schema must not hold up the others
            grammar = build()
        except (RuntimeError, ValueError) as e:  # xgrammar's reason without its log prefix
            reason = _LOG_PREFIX.sub('', (str(e).strip() or type(e).__name__).splitlines()[0])
            raise ConstraintError(param, f'{param}: the grammar library (xgrammar) cannot '
                                         f'compile the schema: {reason}; simplify the schema '
                                         'or drop the keyword it names') from None
        with self._lock:
            out = self._cache.setdefault(key, Compiled(grammar, self.stop, key))
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
            return out

    def _json(self, schema: Any) -> Any:
        return xgr.Grammar.from_json_schema(json.dumps(schema), any_whitespace=False,
                                            strict_mode=True)

    def response_format(self, rf: dict) -> Compiled | None:
        """None for text; a grammar for ``json_object`` (any JSON object) or ``json_schema``
        (that schema; refused keywords raise ConstraintError, see the module docstring)."""
        if rf.get('type') == 'json_object':
            schema: Any = {'type': 'object'}
        elif rf.get('type') == 'json_schema':
            schema = (rf.get('json_schema') or {}).get('schema', {})
            check_schema(schema, 'response_format')
        else:
            return None
        key = json.dumps(['response_format', schema])
        return self._get(key, 'response_format',
                         lambda: self.compiler.compile_grammar(self._json(schema)))

    def tool_calls(self, tools: list[dict], fmt: ToolFormat, only: str | None,
                   parallel: bool) -> Compiled:
        """A grammar for ``fmt.prefix call (fmt.separator call)* fmt.suffix`` (one call when
        not ``parallel``), each call ``fmt.call_open {"name": N, <args_key>: ARGS}
        fmt.call_close`` where ARGS follows the parameters schema of the tool named N (of
        ``only`` when given)."""
        fns = [t.get('function') or {} for t in tools]
        if only is not None:
            fns = [f for f in fns if f.get('name') == only]
            if not fns:
                raise ConstraintError('tool_choice', f'tool_choice: no tool is named {only!r}; '
                                                     'name one of the functions in tools')
        if not fns:
            raise ConstraintError('tools', "tools: a tool call is required but no function is "
                                           "given; send tools or set tool_choice to 'none'")
        calls = []
        for f in fns:
            params = f.get('parameters') or {'type': 'object', 'properties': {}}
            check_schema(params, 'tools')
            calls.append((f.get('name'), params))
        pieces = [fmt.prefix, fmt.call_open, fmt.call_close, fmt.separator, fmt.suffix]
        key = json.dumps(['tool_calls', calls, pieces, fmt.args_key, parallel])
        return self._get(key, 'tools', lambda: self._compile_calls(calls, fmt, parallel))

    def _compile_calls(self, calls: list, fmt: ToolFormat, parallel: bool) -> Any:
        at = '#/properties/' + fmt.args_key.replace('~', '~0').replace('/', '~1')
        named = {f'call{i}': self._json({
            'type': 'object', 'required': ['name', fmt.args_key],
            'properties': {'name': {'const': name}, fmt.args_key: _rebase(params, at)}})
            for i, (name, params) in enumerate(calls)}

        def lit(text: str) -> str:
            return json.dumps(text) + ' ' if text else ''
        call = f'{lit(fmt.call_open)}({" | ".join("@" + n for n in named)}) {lit(fmt.call_close)}'
        more = f'({lit(fmt.separator)}call)*' if parallel else ''
        lark = f'start: {lit(fmt.prefix)}call {more} {lit(fmt.suffix)}\ncall: {call}\n'
        return self.compiler.compile_grammar(xgr.Grammar.from_lark(lark, named_grammars=named))


def _rebase(schema: Any, at: str) -> Any:
    """``schema`` with its local ``$ref``s pointing below ``at``, where it is embedded."""
    if isinstance(schema, dict):
        return {k: at + v[1:] if k == '$ref' and isinstance(v, str) and v.startswith('#')
                else _rebase(v, at) for k, v in schema.items()}
    return [_rebase(v, at) for v in schema] if isinstance(schema, list) else schema


# -- decoding -------------------------------------------------------------------------------
class RowConstraint:
    """The grammar state of one request (one batch row): mask its logits, accept its token."""

    def __init__(self, compiled: Compiled):
        self.compiled = compiled
        self.matcher = xgr.GrammarMatcher(compiled.grammar)
        self.bitmask = xgr.allocate_token_bitmask(1, compiled.stop.numel() * 32)
        self._fresh = False          # bitmask holds the allowed tokens of the current state

    def _fill(self) -> None:
        if not self._fresh:
            self.matcher.fill_next_token_bitmask(self.bitmask)
            self._fresh = True

    def mask(self, logits: torch.Tensor) -> None:
        """Set the logits of the tokens the grammar does not allow next to -inf, in place."""
        self._fill()
        xgr.apply_token_bitmask_inplace(logits, self.bitmask[0], vocab_size=logits.shape[-1])

    def accept(self, token: int) -> bool:
        """Advance by ``token``; False when the grammar does not allow it (end the row)."""
        self._fresh = False
        return self.matcher.accept_token(token)

    @property
    def finished(self) -> bool:
        """The grammar is complete: only a stop token may follow (or one was accepted)."""
        if self.matcher.is_terminated():
            return True
        if not self.matcher.is_completed():
            return False
        self._fill()
        return not bool((self.bitmask[0] & ~self.compiled.stop).any())

