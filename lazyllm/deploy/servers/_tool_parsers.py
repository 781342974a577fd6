"""Tool calls written as text by a model, read back as OpenAI ``tool_calls``.

Every model family writes its calls in its own text format (Hermes/Qwen ``<tool_call>`` tags,
Mistral's ``[TOOL_CALLS]`` list, Llama 3's bare JSON). A ``ToolFormat`` describes one as plain
literals, so the same description parses whole answers, parses streams (``ToolStream``), writes
calls back into a prompt, and lets a grammar builder constrain decoding to the format.

Parsing rules, shared by every format (a plugin's too), chosen so that a stream can send each
call the moment its JSON object is complete and still agree with the whole-text parse:

- the calls start at the format's opening tag (the opening text up to its first ``>`` or
  ``]``); the first tag in the text decides. A format without a tag (Llama 3) only counts
  when the answer starts with a call object, optionally after ``<|python_tag|>``;
- between literals any whitespace is tolerated, missing closing tags at the end too;
- calls are read one after another; what follows the last good call is dropped;
- if not even the first call parses (bad JSON, no ``name``), the whole text is content.
"""
from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass

_DECODER = json.JSONDecoder()
_LEADING_TAGS = ('<|python_tag|>',)     # may precede a tag-less format's calls (Llama 3.1)


@dataclass(frozen=True)
class ToolFormat:
    """How one model family writes tool calls: ``prefix`` + (``call_open`` + JSON object +
    ``call_close``) joined by ``separator`` + ``suffix``. Each JSON object is
    ``{"name": ..., <args_key>: {...}}``."""
    name: str            # 'hermes' | 'mistral' | 'llama3_json'
    prefix: str          # before the first call
    call_open: str       # before each call's JSON object
    call_close: str      # after each
    separator: str       # between calls
    suffix: str          # after the last call
    args_key: str        # 'arguments' or 'parameters'

    @property
    def marker(self) -> str:
        """The tag that starts the calls ('' for a format that has none, like Llama 3)."""
        opening = (self.prefix + self.call_open).strip()
        found = re.match(r'[^>\]]*[>\]]', opening)
        return found.group(0) if found else opening

    def parse(self, text: str) -> tuple[str | None, list[dict]]:
        """(content, calls). calls: [{'id': 'call_<24 hex>', 'type': 'function',
        'function': {'name': str, 'arguments': <JSON string, compact>}}]. content is the text
        before the calls (stripped; None when empty and there are calls). Text that looks like
        a call but does not parse is content (no calls) — never an exception."""
        start = _calls_start(self, text)
        calls: list[dict] = []
        if start is not None:
            pos: int | None = start
            while pos is not None:
                call, pos = _next_call(self, text, pos, first=not calls)
                if call:
                    calls.append(call)
        if not calls:
            return text.strip(), []
        return text[:start].strip() or None, [_openai_call(c) for c in calls]

    def write(self, calls: list[dict]) -> str:
        """``calls`` (OpenAI ``tool_calls`` or ``{'name', 'arguments'}`` dicts) in this
        format's text, the way the model itself would have written them."""
        objs = []
        for call in calls:
            fn = call.get('function', call)
            args = fn.get('arguments', fn.get('parameters'))
            if isinstance(args, str):
                try:
                    args = json.loads(args)
                except ValueError:
                    pass
            objs.append(self.call_open + json.dumps(
                {'name': fn.get('name'), self.args_key: {} if args is None else args},
                ensure_ascii=False) + self.call_close)
        return self.prefix + self.separator.join(objs) + self.suffix


FORMATS: dict[str, ToolFormat] = {}


def register_tool_format(fmt: ToolFormat) -> ToolFormat:
    """Add a format under ``fmt.name`` (the built-ins are added the same way)."""
    if not isinstance(fmt, ToolFormat) or not fmt.name:
        raise ValueError(f'register_tool_format takes a ToolFormat with a name, not {fmt!r}')
    if fmt.name in FORMATS:
        raise ValueError(f'a tool format named {fmt.name!r} is already registered: pick another '
                         f'name (taken: {", ".join(FORMATS)})')
    FORMATS[fmt.name] = fmt
    return fmt


def tool_format(name: str) -> ToolFormat:
    try:
        return FORMATS[name]
    except (KeyError, TypeError):
        raise ValueError(f'unknown tool format {name!r}: use one of {", ".join(FORMATS)} or '
                         'register yours with register_tool_format') from None


def format_for_template(chat_template: str | None) -> str:
    """The name of the format a model writes calls in, judged from its chat template's text
    (which shows the model its own format); hermes when nothing gives it away."""
    text = chat_template or ''
    if '<tool_call>' in text:
        return 'hermes'
    if '[TOOL_CALLS]' in text:
        return 'mistral'
    if '<|python_tag|>' in text or '"parameters"' in text:
        return 'llama3_json'
    return 'hermes'


HERMES = register_tool_format(ToolFormat('hermes', '', '<tool_call>\n', '\n</tool_call>', '\n',
                                         '', 'arguments'))
MISTRAL = register_tool_format(ToolFormat('mistral', '[TOOL_CALLS][', '', '', ', ', ']',
                                          'arguments'))
LLAMA3_JSON = register_tool_format(ToolFormat('llama3_json', '', '', '', '; ', '',
                                              'parameters'))


class ToolStream:
    """Turns the pieces of one streamed answer into OpenAI chunk deltas. Joined, its content
    deltas and calls equal ``fmt.parse`` of the whole text, however the text was split."""

    def __init__(self, fmt: ToolFormat):
        self.fmt, self.text = fmt, ''
        self.start: int | None = None   # where the calls begin, once known
        self.pos: int | None = None     # where to look for the next call
        self.sent = 0                   # characters of content sent
        self.calls = 0                  # calls sent

    @property
    def called(self) -> bool:
        """At least one tool call was sent: the answer's finish_reason is 'tool_calls'."""
        return self.calls > 0

    def feed(self, text: str) -> list[dict]:
        """Deltas for this piece of text (see the module docstring for what is held back)."""
        self.text += text
        if self.start is None:
            self.start = _calls_start(self.fmt, self.text)
            if self.start is None:
                return self._content(self.text[:self._safe_end()])
            self.pos = self.start
            out = self._content(self.text[:self.start])
        else:
            out = []
        while self.pos is not None:
            call, pos = _next_call(self.fmt, self.text, self.pos, first=not self.calls)
            if call is None:        # incomplete for now (or never): look again later
                break
            out += _call_deltas(self.calls, call)
            self.calls, self.pos = self.calls + 1, pos
        return out

    def finish(self) -> list[dict]:
        """Flush at the end: held-back text is content unless it turned into calls."""
        return [] if self.calls else self._content(self.text)

    def _content(self, upto: str) -> list[dict]:
        piece = upto.strip()[self.sent:]
        self.sent += len(piece)
        return [{'content': piece}] if piece else []

    def _safe_end(self) -> int:
        """How much of the text (no calls found yet) can go out as content: not a tail that
        may grow into the marker, nor trailing whitespace (content is stripped)."""
        text, marker = self.text, self.fmt.marker
        if not marker:     # tag-less: undecided while the start may still become a call
            head = text.lstrip()
            return 0 if any(t.startswith(head) for t in _LEADING_TAGS) else len(text)
        hold = next((k for k in range(min(len(marker) - 1, len(text)), 0, -1)
                     if text.endswith(marker[:k])), 0)
        return len(text) - hold


def _calls_start(fmt: ToolFormat, text: str) -> int | None:
    """Where the calls would begin: the first marker, or (tag-less) the answer's start."""
    marker = fmt.marker
    if marker:
        found = text.find(marker)
        return None if found < 0 else found
    head = text.lstrip()
    if head.startswith('{') or any(head.startswith(t) for t in _LEADING_TAGS):
        return len(text) - len(head)
    return None


def _next_call(fmt: ToolFormat, text: str, pos: int,
               first: bool) -> tuple[dict | None, int | None]:
    """(call, position after it), or (None, None) where the calls end or stay incomplete."""
    if first:
        pos += len(fmt.marker)
        for tag in () if fmt.marker else _LEADING_TAGS:
            if text.startswith(tag, _skip_space(text, pos)):
                pos = _skip_space(text, pos) + len(tag)
        after = _expect(text, pos, (fmt.prefix + fmt.call_open).strip()[len(fmt.marker):])
    else:
        after = _expect(text, pos, fmt.call_close + fmt.separator + fmt.call_open)
    if after is None:
        return None, None
    pos = _skip_space(text, after)
    if not text.startswith('{', pos):   # objects only: they cannot grow once complete
        return None, None
    try:
        obj, end = _DECODER.raw_decode(text, pos)
    except ValueError:
        return None, None
    call = _call_of(obj, strict=not fmt.marker)
    return (call, end) if call else (None, None)


def _call_of(obj: dict, strict: bool) -> dict | None:
    """{'name', 'arguments': compact JSON} from a call object, None if it is not one. A
    tag-less format (strict) wants just a name and its arguments (and maybe ``"type"``), so
    that a plain JSON answer is not taken for a call."""
    name = obj.get('name')
    key = 'arguments' if 'arguments' in obj else 'parameters'
    if not isinstance(name, str) or not name or \
            (strict and (key not in obj or set(obj) - {'name', key, 'type'})):
        return None
    args = obj.get(key)
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except ValueError:
            return None
    if args is None:
        args = {}
    if not isinstance(args, dict):
        return None
    return {'name': name,
            'arguments': json.dumps(args, ensure_ascii=False, separators=(',', ':'))}


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def _expect(text: str, pos: int, literal: str) -> int | None:
    """The position after ``literal`` in ``text`` from ``pos``, whitespace not counting."""
    for ch in literal:
        if ch.isspace():
            continue
        pos = _skip_space(text, pos)
        if not text.startswith(ch, pos):
            return None
        pos += 1
    return pos


def _openai_call(call: dict) -> dict:
    return {'id': f'call_{uuid.uuid4().hex[:24]}', 'type': 'function', 'function': call}


def _call_deltas(index: int, call: dict) -> list[dict]:
    """A call the way OpenAI streams it: id, type and name first, then the arguments."""
    head = {'index': index, **_openai_call({'name': call['name'], 'arguments': ''})}
    return [{'tool_calls': [head]},
            {'tool_calls': [{'index': index, 'function': {'arguments': call['arguments']}}]}]
