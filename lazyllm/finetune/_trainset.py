"""Loading and checking a trainset before any finetune job starts.

``load_trainset(data, task)`` reads a ``.jsonl`` file, a ``.json`` file, a folder of them or
a Python list of dicts, checks every record and returns a :class:`Trainset` of normalized
records, the shape the job processes read (see :mod:`.jobs._protocol`):

- ``task='embed'`` / ``'rerank'``: ``{"query": str, "pos": [str, ...], "neg": [str, ...]}``.
  Accepted spellings: ``query`` or ``anchor``; ``pos`` or ``positive``; ``neg`` or
  ``negative`` (each a str or a list of str; the negatives are optional). Every other field
  (``pos_scores``, ``neg_scores``, ``prompt``, ``type``, ``id`` and any unknown one; data made
  for FlagEmbedding or sentence-transformers carries many) is dropped without a word.
- ``task='llm'``: ``{"messages": [{"role": "system"|"user"|"assistant", "content": str}, ...]}``
  from any of

  - alpaca: ``{"instruction", "input"?, "output", "system"?, "history"?}`` (``history`` is a
    list of ``[user, assistant]`` pairs that come before the instruction);
  - OpenAI chat: ``{"messages": [{"role", "content"}, ...]}`` (content a str or a list of text
    parts, which are joined with newlines);
  - ShareGPT: ``{"conversations": [{"from": "human"|"gpt"|"system", "value"}, ...]}``, with an
    optional ``"system"`` field.

  Other fields of a record (``id``, ``source``...) and of a message (``name``, ``weight``...)
  are dropped. A conversation ends with a non-empty assistant message; tool messages and
  image parts are not supported for finetuning yet and are an error.

The first bad record stops the load with an :class:`~lazyllm.errors.InputError` that names the
file, the line (``path:7``) or the record (``path: record #12``), the field, what is wrong and
the fix. Standard library only; files are streamed line by line.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from .._config import expand_user
from .._names import article, safe_name
from ..errors import InputError

__all__ = ['Trainset', 'load_trainset']

TASKS = ('embed', 'rerank', 'llm')
_SUFFIXES = ('.jsonl', '.json')
_ACCEPTED = ('pass the path of a .jsonl file (one JSON object per line), of a .json file '
             '(a list of objects, or an object with one list such as {"data": [...]}), of a '
             'folder of such files, or a Python list of dicts')
_EMBED_SHAPE = '{"query": "…", "pos": ["…"], "neg": ["…"]}'
_LLM_SHAPES = ('alpaca {"instruction": "…", "input": "…" (optional), "output": "…"}, '
               'OpenAI chat {"messages": [{"role": "user", "content": "…"}, '
               '{"role": "assistant", "content": "…"}]} or ShareGPT {"conversations": '
               '[{"from": "human", "value": "…"}, {"from": "gpt", "value": "…"}]}')
_LLM_KEYS = ('instruction', 'output', 'messages', 'conversations')
_EMBED_KEYS = ('query', 'anchor', 'pos', 'positive')


@dataclass
class Trainset:
    """A checked trainset: ``records`` in the normalized shape of its task, a ``name`` for
    run folders, the files it was read from (``sources``) and ``counts`` of what it holds."""

    records: list[dict]
    name: str
    sources: list[str] = field(default_factory=list)
    counts: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.records)

    def write(self, path: str | os.PathLike) -> Path:
        """Write the records as JSON lines (UTF-8); the parent folder is created if needed."""
        path = expand_user(path, 'the trainset file')
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, 'w', encoding='utf-8', newline='\n') as f:
            for record in self.records:
                f.write(json.dumps(record, ensure_ascii=False))
                f.write('\n')
        return path


class _Bad(Exception):
    """A problem inside one record; the loader adds where the record is."""


def load_trainset(data: Any, task: str) -> Trainset:
    """Read and check ``data`` (a path to a .jsonl / .json file or a folder of them, or a list
    of dicts) as a trainset for ``task`` ('embed', 'rerank' or 'llm')."""
    if task not in TASKS:
        raise InputError(f'unknown finetune task {task!r}: use one of {", ".join(TASKS)}')
    check = _check_llm if task == 'llm' else _check_pairs
    if isinstance(data, (list, tuple)):
        name, sources = 'list', []
        items = ((f'record #{i} of the trainset list', r) for i, r in enumerate(data, 1))
        empty_where = 'the trainset list'
    elif isinstance(data, (str, os.PathLike)):
        path = expand_user(data, 'trainset')
        files = _files(path)
        name = path.resolve().name if path.is_dir() else path.stem
        sources = [str(f) for f in files]
        items = (item for f in files for item in _read(f))
        empty_where = str(path)
    else:
        kind = type(data).__name__
        raise InputError(f'cannot use {article(kind)} {kind} as a trainset: {_ACCEPTED}')
    records = []
    try:
        for where, raw in items:
            try:
                records.append(check(raw))
            except _Bad as e:
                raise InputError(f'{where}: {e}') from None
    except OSError as e:
        raise InputError(f'cannot read the trainset file {e.filename}: {e.strerror}; check that '
                         'it is a readable file') from e
    if not records:
        raise InputError(f'{empty_where} holds no records: a trainset needs at least one '
                         f'example, e.g. {_LLM_SHAPES if task == "llm" else _EMBED_SHAPE}')
    return Trainset(records, safe_name(name, 40, 'trainset'), sources, _counts(records, task))


def _counts(records: list[dict], task: str) -> dict:
    if task == 'llm':
        turns = sum(m['role'] == 'assistant' for r in records for m in r['messages'])
        return {'records': len(records), 'turns': turns}
    return {'records': len(records), 'pos': sum(len(r['pos']) for r in records),
            'neg': sum(len(r['neg']) for r in records)}


# ---- files ----

def _files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted((p for p in path.iterdir() if p.is_file() and not p.name.startswith('.')
                        and p.suffix.lower() in _SUFFIXES), key=lambda p: p.name)
        if not files:
            raise InputError(f'trainset folder {path} has no .jsonl or .json files: put the '
                             'trainset files in it (other files and subfolders are ignored)')
        return files
    if not path.exists():
        raise InputError(f'trainset {path} does not exist: check the path; {_ACCEPTED}')
    if path.suffix.lower() not in _SUFFIXES:
        raise InputError(f'trainset {path} is not a .jsonl or .json file: {_ACCEPTED}')
    return [path]


def _decode(raw: bytes, where: str, fix: str) -> str:
    try:
        return raw.decode('utf-8')
    except UnicodeDecodeError as e:
        raise InputError(f'{where}: not UTF-8 text (byte 0x{raw[e.start]:02x} at offset '
                         f'{e.start}): {fix}') from None


def _read(path: Path) -> Iterator[tuple[str, Any]]:
    if path.suffix.lower() == '.jsonl':
        yield from _read_lines(path)
        return
    text = _decode(path.read_bytes(), str(path), 'save the file as UTF-8').lstrip('\ufeff')
    if not text.strip():
        return
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        if e.msg == 'Extra data' and _first_line_is_object(text):
            yield from _read_lines(path)          # JSON lines in a file named .json
            return
        raise InputError(f'{path}: not valid JSON ({e.msg}: line {e.lineno} column {e.colno}): '
                         'fix the file; a .json file holds one list of records (for one '
                         'record per line name it .jsonl)') from None
    for i, record in enumerate(_record_list(doc, path), 1):
        yield f'{path}: record #{i}', record


def _first_line_is_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text.lstrip().split('\n', 1)[0]), dict)
    except ValueError:
        return False


def _record_list(doc: Any, path: Path) -> list:
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict):
        if any(k in doc for k in _LLM_KEYS + _EMBED_KEYS):
            raise InputError(f'{path} holds a single record: put the records in a list, '
                             '[{...}, {...}], or one per line in a .jsonl file')
        lists = [k for k, v in doc.items() if isinstance(v, list)]
        if len(lists) == 1:
            return doc[lists[0]]
        if lists:
            raise InputError(f'{path} is an object with several lists ({_keys(lists)}): keep '
                             'only the list of records, e.g. {"data": [...]}')
    raise InputError(f'{path} holds {_got(doc)}, not a list of records: write a JSON list '
                     '[{...}, {...}] or an object with one list such as {"data": [...]}')


def _read_lines(path: Path) -> Iterator[tuple[str, Any]]:
    with open(path, 'rb') as f:
        for lineno, raw in enumerate(f, 1):
            where = f'{path}:{lineno}'
            line = _decode(raw, where, 'save the file as UTF-8')
            if lineno == 1:
                line = line.lstrip('\ufeff')
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                hint = ''
                if lineno == 1 and line.strip() in ('[', '{'):
                    hint = ' (the file looks like one JSON document: name it .json)'
                raise InputError(f'{where}: not valid JSON ({e.msg}: column {e.colno}): fix '
                                 f'the line, each line is one JSON object{hint}') from None
            yield where, record


# ---- values ----

def _got(value: Any) -> str:
    if value is None:
        kind = 'null'
    elif isinstance(value, bool):
        kind = 'a boolean'
    elif isinstance(value, (int, float)):
        kind = 'a number'
    elif isinstance(value, str):
        kind = 'a string'
    elif isinstance(value, (list, tuple)):
        kind = 'a list'
    elif isinstance(value, dict):
        kind = 'an object'
    else:
        kind = f'a {type(value).__name__}'
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    text = text if len(text) <= 60 else text[:57] + '...'
    return f'{text} ({kind})'


def _keys(keys: Any) -> str:
    return ', '.join(f'"{k}"' for k in keys) or 'none'


def _record(raw: Any, shapes: str) -> dict:
    if not isinstance(raw, dict):
        raise _Bad(f'the record is {_got(raw)}, not an object: each record is an object '
                   f'like {shapes}')
    return raw


def _text(value: Any, name: str, fix: str) -> str:
    if not isinstance(value, str):
        raise _Bad(f'"{name}" must be a str, got {_got(value)}: {fix}')
    if not value.strip():
        raise _Bad(f'"{name}" is empty: {fix}')
    return value


# ---- embed / rerank ----

def _alias(record: dict, names: tuple[str, str], what: str) -> str | None:
    present = [n for n in names if n in record]
    if len(present) == 2:
        raise _Bad(f'the record has both "{names[0]}" and "{names[1]}": keep one spelling of '
                   f'the {what}')
    return present[0] if present else None


def _passages(value: Any, name: str, fix: str) -> list[str]:
    if isinstance(value, str):
        if not value.strip():
            raise _Bad(f'"{name}" is empty: {fix}')
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        raise _Bad(f'"{name}" must be a non-empty list of str, got {_got(value)}: {fix}')
    for i, p in enumerate(value):
        if not isinstance(p, str):
            raise _Bad(f'"{name}"[{i}] must be a str, got {_got(p)}: {fix}')
        if not p.strip():
            raise _Bad(f'"{name}"[{i}] is empty: {fix}')
    return list(value)


def _check_pairs(raw: Any) -> dict:
    record = _record(raw, _EMBED_SHAPE)
    q_key = _alias(record, ('query', 'anchor'), 'query')
    p_key = _alias(record, ('pos', 'positive'), 'positives')
    n_key = _alias(record, ('neg', 'negative'), 'negatives')
    if q_key is None:
        hint = (" (this looks like an LLM record: use task='llm' for it)"
                if any(k in record for k in _LLM_KEYS) else '')
        raise _Bad(f'"query" is missing (the record has {_keys(record)}){hint}: each record is '
                   f'{_EMBED_SHAPE}; "anchor", "positive" and "negative" are accepted too')
    query = _text(record[q_key], q_key, f'give the query text, e.g. "{q_key}": "…"')
    if p_key is None:
        raise _Bad('"pos" is missing: give at least one relevant passage, e.g. "pos": ["…"] '
                   '(or "positive")')
    pos = _passages(record[p_key], p_key,
                    f'give the relevant passages, e.g. "{p_key}": ["…"]')
    neg: list[str] = []
    if n_key is not None and record[n_key] is not None:
        value = record[n_key]
        if isinstance(value, (list, tuple)) and not value:
            pass
        else:
            neg = _passages(value, n_key, f'give the irrelevant passages, e.g. "{n_key}": ["…"], '
                                          'or leave the field out')
    return {'query': query, 'pos': pos, 'neg': neg}


# ---- llm ----

_TOOLS_FIX = ('tool calls are not supported for finetuning yet: remove the tool turns or the '
              'records that have them')


def _check_llm(raw: Any) -> dict:
    record = _record(raw, _LLM_SHAPES)
    shapes = [s for s, present in (('alpaca', 'instruction' in record or 'output' in record),
                                   ('chat', 'messages' in record),
                                   ('sharegpt', 'conversations' in record)) if present]
    if len(shapes) > 1:
        found = [k for k in _LLM_KEYS if k in record]
        raise _Bad(f'the record mixes shapes ({_keys(found)}): use one of {_LLM_SHAPES}')
    if not shapes:
        hint = (" (this looks like an embedding record: use task='embed' or 'rerank' for it)"
                if any(k in record for k in _EMBED_KEYS) else '')
        raise _Bad(f'the record has none of the accepted shapes (it has {_keys(record)}){hint}: '
                   f'use {_LLM_SHAPES}')
    messages = {'alpaca': _alpaca, 'chat': _chat, 'sharegpt': _sharegpt}[shapes[0]](record)
    return {'messages': messages}


def _optional(record: dict, name: str, fix: str) -> str:
    value = record.get(name)
    if value is None:
        return ''
    if not isinstance(value, str):
        raise _Bad(f'"{name}" must be a str, got {_got(value)}: {fix}')
    return value


def _alpaca(record: dict) -> list[dict]:
    if 'instruction' not in record:
        raise _Bad('"instruction" is missing: an alpaca record is {"instruction": "…", '
                   '"input": "…" (optional), "output": "…"}')
    instruction = record['instruction']
    if not isinstance(instruction, str):
        raise _Bad(f'"instruction" must be a str, got {_got(instruction)}: give the task, '
                   'e.g. "instruction": "Translate to French"')
    inp = _optional(record, 'input', 'give the input text, or leave the field out')
    if not instruction.strip() and not inp.strip():
        raise _Bad('"instruction" is empty (and there is no "input"): every example needs the '
                   'prompt to learn from, e.g. "instruction": "Translate to French"')
    if 'output' not in record:
        raise _Bad('"output" is missing: every example needs the answer to train on, '
                   'e.g. "output": "…"')
    output = _text(record['output'], 'output', 'every example needs the answer to train on')
    system = _optional(record, 'system', 'give the system prompt, or leave the field out')
    messages = [{'role': 'system', 'content': system}] if system.strip() else []
    history = record.get('history') or []
    if not isinstance(history, (list, tuple)):
        raise _Bad(f'"history" must be a list of [user, assistant] pairs, got {_got(history)}: '
                   'fix it or leave the field out')
    for i, pair in enumerate(history):
        if (not isinstance(pair, (list, tuple)) or len(pair) != 2
                or not all(isinstance(s, str) and s.strip() for s in pair)):
            raise _Bad(f'"history"[{i}] must be a [user, assistant] pair of non-empty str, got '
                       f'{_got(pair)}: fix it or leave the field out')
        messages += [{'role': 'user', 'content': pair[0]},
                     {'role': 'assistant', 'content': pair[1]}]
    user = '\n\n'.join(s for s in (instruction, inp) if s.strip())
    return messages + [{'role': 'user', 'content': user},
                       {'role': 'assistant', 'content': output}]


def _content(content: Any, where: str) -> str:
    fix = 'give the message text as a str or a list of {"type": "text", "text": "…"} parts'
    if isinstance(content, str):
        return content
    if not isinstance(content, (list, tuple)):
        raise _Bad(f'{where} must be a str, got {_got(content)}: {fix}')
    texts = []
    for part in content:
        kind = part.get('type') if isinstance(part, dict) else None
        if kind == 'text' and isinstance(part.get('text'), str):
            texts.append(part['text'])
        elif kind in ('image_url', 'image', 'input_image', 'audio', 'input_audio', 'video'):
            raise _Bad(f'{where} has a "{kind}" part: only text can be finetuned for now; '
                       'remove the non-text parts or the records that have them')
        else:
            raise _Bad(f'{where} has the part {_got(part)}: {fix}')
    return '\n'.join(texts)


def _conversation(messages: list[dict], label: Callable[[int], str], name: str) -> list[dict]:
    """Checks shared by chat and ShareGPT records; ``label(i)`` says where message i is."""
    for i, m in enumerate(messages):
        if m['role'] == 'system' and i > 0:
            raise _Bad(f'{label(i)} is a system message after the first turn: put the system '
                       'message first, once')
        if not m['content'].strip() and m['role'] != 'system':
            raise _Bad(f'{label(i)} ({m["role"]}) has empty content: give the text, or drop the '
                       'turn')
    messages = [m for m in messages if m['content'].strip()]    # an empty system prompt
    if not any(m['role'] == 'assistant' for m in messages):
        raise _Bad(f'"{name}" has no assistant message: the assistant turns are what is '
                   'trained; add the answer')
    if messages[-1]['role'] != 'assistant':
        raise _Bad(f'"{name}" ends with a {messages[-1]["role"]} message, which trains '
                   'nothing: end each conversation with the assistant\'s answer (drop the '
                   'trailing turn)')
    return messages


def _turns(record: dict, name: str, item_shape: str) -> list | tuple:
    value = record[name]
    if not isinstance(value, (list, tuple)) or not value:
        raise _Bad(f'"{name}" must be a non-empty list of {item_shape} objects, got '
                   f'{_got(value)}: give the conversation, e.g. {_LLM_SHAPES}')
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise _Bad(f'"{name}"[{i}] must be a {item_shape} object, got {_got(item)}')
    return value


def _chat(record: dict) -> list[dict]:
    messages = []
    label = '"messages"[{}]'.format
    for i, m in enumerate(_turns(record, 'messages', '{"role", "content"}')):
        role = m.get('role')
        if role in ('tool', 'function', 'ipython'):
            raise _Bad(f'{label(i)} is a "{role}" message: {_TOOLS_FIX}')
        if m.get('tool_calls') or m.get('function_call'):
            key = 'tool_calls' if m.get('tool_calls') else 'function_call'
            raise _Bad(f'{label(i)} has "{key}": {_TOOLS_FIX}')
        if role not in ('system', 'user', 'assistant'):
            raise _Bad(f'{label(i)} has role {_got(role)}: use "system", "user" or "assistant"')
        if 'content' not in m:
            raise _Bad(f'{label(i)} has no "content": give the message text')
        content = m['content']
        if not isinstance(content, str):
            content = _content(content, f'{label(i)}.content')
        messages.append({'role': role, 'content': content})
    return _conversation(messages, label, 'messages')


_SHAREGPT_ROLES = {'human': 'user', 'user': 'user', 'gpt': 'assistant',
                   'assistant': 'assistant', 'system': 'system'}


def _sharegpt(record: dict) -> list[dict]:
    system = _optional(record, 'system', 'give the system prompt, or leave the field out')
    messages = [{'role': 'system', 'content': system}] if system.strip() else []
    offset = len(messages)
    label = '"conversations"[{}]'.format
    for i, turn in enumerate(_turns(record, 'conversations', '{"from", "value"}')):
        who = turn.get('from')
        if who in ('function_call', 'observation', 'tool', 'function'):
            raise _Bad(f'{label(i)} is a "{who}" turn: {_TOOLS_FIX}')
        if who not in _SHAREGPT_ROLES:
            raise _Bad(f'{label(i)} has "from" {_got(who)}: use "human", "gpt" or "system"')
        value = turn.get('value')
        if not isinstance(value, str):
            raise _Bad(f'{label(i)}.value must be a str, got {_got(value)}: give the turn\'s text')
        messages.append({'role': _SHAREGPT_ROLES[who], 'content': value})
    return _conversation(messages, lambda i: label(i - offset) if i >= offset
                         else '"system"', 'conversations')
