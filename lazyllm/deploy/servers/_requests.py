"""A request body, checked whole before it joins a batch.

``chat_request`` / ``completion_request`` return what the engine needs (messages or prompts
and a ``Spec``) or raise a 400 ``ApiError`` that names the field (``param``) and the fix;
``texts_of`` does the same for the ``input`` of the embedding and classify engines. Every
field is checked for type and range here, in the request's own task, so a bad value can
never reach the batched generator and fail other requests. The field tables are in
``_fields``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ._app import ApiError
from ._fields import (
    CHAT_HONOURED,
    COMPLETION_HONOURED,
    boolean,
    check_fields,
    invalid,
    logit_bias_of,
    number,
    seed_of,
    stops_of,
    stream_of,
)
from ._sampling import Sampling

_ROLES = ('system', 'developer', 'user', 'assistant', 'tool')
_TOOL_NAME = re.compile(r'[A-Za-z0-9_.\-]{1,64}')
MAX_TOOLS = 128


@dataclass
class Spec:
    """What a request asks of generation, beyond its prompt."""
    sampling: dict
    stop: list[str] = field(default_factory=list)
    stream: bool = False
    include_usage: bool = False
    response_format: dict | None = None          # None: free text
    tools: list[dict] = field(default_factory=list)
    tool_choice: str = 'auto'                     # none | auto | required | named
    tool_name: str | None = None                  # the function a named tool_choice forces
    parallel_tool_calls: bool = True

    @property
    def calls_tools(self) -> bool:
        return bool(self.tools) and self.tool_choice != 'none'

    def new_sampling(self) -> Sampling:   # each request its own: a seeded generator is state
        return Sampling(**self.sampling)


def sampling_fields(body: dict, vocab: int, defaults: dict) -> dict:
    d = defaults      # the model's generation_config.json, or the engine's override
    return dict(
        temperature=number(body, 'temperature', d.get('temperature', 1.0), 0.0, 2.0),
        top_p=number(body, 'top_p', d.get('top_p', 1.0), 0.0, 1.0),
        top_k=max(0, number(body, 'top_k', d.get('top_k', 0), -1, 1 << 30, int)),
        min_p=number(body, 'min_p', d.get('min_p', 0.0), 0.0, 1.0),
        repetition_penalty=number(body, 'repetition_penalty',   # tiny ones overflow float32
                                  d.get('repetition_penalty', 1.0), 0.01, 10.0),
        presence_penalty=number(body, 'presence_penalty', 0.0, -2.0, 2.0),
        frequency_penalty=number(body, 'frequency_penalty', 0.0, -2.0, 2.0),
        logit_bias=logit_bias_of(body, vocab),
        seed=seed_of(body))


def _spec(body: dict, vocab: int, defaults: dict) -> Spec:
    stream, include_usage = stream_of(body)
    return Spec(sampling_fields(body, vocab, defaults), stops_of(body), stream, include_usage)


def chat_request(body: dict, vocab: int, defaults: dict) -> tuple[list[dict], Spec]:
    check_fields(body, CHAT_HONOURED, '/v1/chat/completions')
    spec = _spec(body, vocab, defaults)
    messages = messages_of(body)
    spec.tools = tools_of(body)
    spec.tool_choice, spec.tool_name = tool_choice_of(body, spec.tools)
    spec.parallel_tool_calls = boolean(body, 'parallel_tool_calls', True)
    spec.response_format = response_format_of(body)
    if spec.response_format and spec.tool_choice in ('required', 'named'):
        raise ApiError(400, 'response_format and a forced tool_choice cannot both shape the '
                            'answer: send tool_choice "auto"/"none", or no response_format',
                       param='response_format', code='invalid_value')
    return messages, spec


def completion_request(body: dict, vocab: int, defaults: dict) -> tuple[list, Spec]:
    """(prompts, spec): each prompt a str or a list of token ids."""
    check_fields(body, COMPLETION_HONOURED, '/v1/completions')
    return prompts_of(body, vocab), _spec(body, vocab, defaults)


def _text_of(content: Any, where: str) -> str:
    """The text of a message's content: a string or a list of text parts."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise invalid(where, 'must be a string or a list of content parts', content)
    texts = []
    for j, part in enumerate(content):
        if not isinstance(part, dict):
            raise invalid(f'{where}[{j}]', 'must be an object like {"type": "text", '
                                           '"text": "..."}', part)
        if part.get('type') not in ('text', 'refusal'):
            raise ApiError(400, f'{where}[{j}] is a {part.get("type")!r} part: this engine '
                                'serves a text model and reads text parts only',
                           param='messages', code='invalid_value')
        text = part.get(part['type'])
        if not isinstance(text, str):
            raise invalid(f'{where}[{j}].{part["type"]}', 'must be a string', text)
        texts.append(text)
    return ''.join(texts)


def _tool_calls_of(calls: Any, where: str) -> list[dict]:
    if not isinstance(calls, list) or not calls:
        raise invalid(where, 'must be a non-empty list of tool calls', calls)
    out = []
    for j, c in enumerate(calls):
        fn = c.get('function') if isinstance(c, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get('name'), str) or \
                not isinstance(fn.get('arguments'), str) or not isinstance(c.get('id'), str):
            raise invalid(f'{where}[{j}]', 'must be {"id": str, "type": "function", '
                                           '"function": {"name": str, "arguments": str}}', c)
        out.append({'id': c['id'], 'type': 'function',
                    'function': {'name': fn['name'], 'arguments': fn['arguments']}})
    return out


def _message(m: Any, i: int) -> dict:
    where = f'messages[{i}]'
    if not isinstance(m, dict) or m.get('role') not in _ROLES:
        raise ApiError(400, f'{where} needs a role of {", ".join(_ROLES)}', param='messages',
                       code='invalid_value')
    role, content = m['role'], m.get('content')
    out: dict = {'role': 'system' if role == 'developer' else role}
    if role == 'assistant' and m.get('tool_calls') is not None:
        out['tool_calls'] = _tool_calls_of(m['tool_calls'], f'{where}.tool_calls')
        out['content'] = None if content is None else _text_of(content, f'{where}.content')
    elif content is None:
        raise ApiError(400, f'{where} ({role}) has no content: add its text as "content" '
                            '(only an assistant message with tool_calls may omit it)',
                       param='messages', code='invalid_value')
    else:
        out['content'] = _text_of(content, f'{where}.content')
    if role == 'tool':
        if not isinstance(m.get('tool_call_id'), str):
            raise invalid(f'{where}.tool_call_id', 'must be the id of the call it answers', None)
        out['tool_call_id'] = m['tool_call_id']
    if m.get('name') is not None:
        if not isinstance(m['name'], str):
            raise invalid(f'{where}.name', 'must be a string', m['name'])
        out['name'] = m['name']
    return out


def messages_of(body: dict) -> list[dict]:
    messages = body.get('messages')
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, 'messages must be a non-empty list of {"role", "content"} objects',
                       param='messages', code='invalid_value')
    return [_message(m, i) for i, m in enumerate(messages)]


def tools_of(body: dict) -> list[dict]:
    tools = body.get('tools')
    if tools is None:
        return []
    if not isinstance(tools, list) or len(tools) > MAX_TOOLS:
        raise invalid('tools', f'must be a list of at most {MAX_TOOLS} function tools', tools)
    out, names = [], set()
    for j, t in enumerate(tools):
        fn = t.get('function') if isinstance(t, dict) else None
        if not isinstance(t, dict) or t.get('type') != 'function' or not isinstance(fn, dict):
            raise invalid(f'tools[{j}]', 'must be {"type": "function", "function": {"name": '
                                         '..., "parameters": {...}}}', t)
        name, params = fn.get('name'), fn.get('parameters')
        if not isinstance(name, str) or not _TOOL_NAME.fullmatch(name):
            raise invalid(f'tools[{j}].function.name', 'must be 1-64 of a-z, A-Z, 0-9, _ . -',
                          name)
        if name in names:
            raise invalid(f'tools[{j}].function.name', 'must be unique', name)
        if params is not None and not isinstance(params, dict):
            raise invalid(f'tools[{j}].function.parameters', 'must be a JSON schema object',
                          params)
        if not isinstance(fn.get('description', ''), str) or \
                not isinstance(fn.get('strict', False), (bool, type(None))):
            raise invalid(f'tools[{j}].function', 'description must be a string and strict a '
                                                  'boolean', fn)
        names.add(name)
        out.append({'type': 'function', 'function': {
            k: v for k, v in fn.items() if k in ('name', 'description', 'parameters', 'strict')
            and v is not None}})
    return out


def tool_choice_of(body: dict, tools: list[dict]) -> tuple[str, str | None]:
    choice = body.get('tool_choice')
    names = [t['function']['name'] for t in tools]
    if choice is None or choice in ('none', 'auto'):
        return choice or 'auto', None
    if choice == 'required':
        if not tools:
            raise invalid('tool_choice', '"required" needs tools', choice)
        return 'required', None
    fn = choice.get('function') if isinstance(choice, dict) else None
    if isinstance(choice, dict) and choice.get('type') == 'function' and isinstance(fn, dict):
        if fn.get('name') not in names:
            raise invalid('tool_choice', f'must name one of the tools ({", ".join(names)})',
                          choice)
        return 'named', fn['name']
    raise invalid('tool_choice', 'must be "none", "auto", "required" or {"type": "function", '
                                 '"function": {"name": ...}}', choice)


def response_format_of(body: dict) -> dict | None:
    rf = body.get('response_format')
    if rf is None:
        return None
    kind = rf.get('type') if isinstance(rf, dict) else None
    if kind == 'text':
        return None
    if kind == 'json_object':
        return {'type': 'json_object'}
    if kind == 'json_schema':
        js = rf.get('json_schema')
        if not isinstance(js, dict) or not isinstance(js.get('name'), str) or \
                not isinstance(js.get('schema', {}), dict):
            raise invalid('response_format.json_schema', 'must be {"name": str, "schema": '
                                                          '{...}, "strict": bool}', js)
        if not isinstance(js.get('strict', False), (bool, type(None))):
            raise invalid('response_format.json_schema.strict', 'must be a boolean',
                          js['strict'])
        return {'type': 'json_schema', 'json_schema': js}
    raise invalid('response_format', 'must be {"type": "text"}, {"type": "json_object"} or '
                                     '{"type": "json_schema", "json_schema": {...}}', rf)


def prompts_of(body: dict, vocab: int) -> list:
    """Completions prompts: a str, a list of str, a list of token ids, or a list of those."""
    prompt = body.get('prompt')
    if isinstance(prompt, str) or _is_ids(prompt, vocab):
        return [prompt]
    if isinstance(prompt, list) and prompt and \
            all(isinstance(p, str) or _is_ids(p, vocab) for p in prompt):
        return prompt
    raise invalid('prompt', f'must be a string, a list of strings, or token ids (ints from 0 '
                            f'to {vocab - 1}) or lists of them', prompt)


def _is_ids(p: Any, vocab: int) -> bool:
    return isinstance(p, list) and bool(p) and all(
        isinstance(t, int) and not isinstance(t, bool) and 0 <= t < vocab for t in p)


def texts_of(body: dict, task: str, *, empty_ok: bool) -> list[str]:
    """The ``input`` field of an embeddings or classify request (``task``: 'embed',
    'classify') as a non-empty list of strings, or a 400 that says what to send.
    ``empty_ok``: whether '' is a text (it has an embedding; it has no class)."""
    if 'input' not in body:
        raise ApiError(400, 'input is required: send a string or a non-empty list of strings')
    value = body['input']
    if value == '' and not empty_ok:
        raise ApiError(400, f'input is empty: send the text to {task} (a non-empty string or '
                            'a list of them)')
    texts = [value] if isinstance(value, str) else value
    if not isinstance(texts, list) or not texts:
        raise ApiError(400, f'input must be a {"" if empty_ok else "non-empty "}string or a '
                            f'non-empty list of strings, got {value!r:.60}')
    if all(isinstance(t, int) for t in texts) or all(
            isinstance(t, list) and all(isinstance(x, int) for x in t) for t in texts):
        raise ApiError(400, f'input holds token ids: this {task} engine takes text only, send '
                            'the strings themselves')
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise ApiError(400, f'input[{i}] must be a string, got {type(text).__name__}: '
                                f'convert it to text first')
        if not text and not empty_ok:
            raise ApiError(400, f'input[{i}] is an empty string: send text to {task}, or '
                                f'leave it out')
    return texts
