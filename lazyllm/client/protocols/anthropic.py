"""Anthropic's Messages API (``POST /v1/messages``), translated to and from OpenAI messages.

Modules build OpenAI-shaped messages (the prompter's output) and expect OpenAI-shaped
results; this module is the one place that knows how Claude differs: the system prompt is a
top-level field, ``max_tokens`` is required, images are ``{"type": "image", "source": …}``
blocks, tool calls are ``tool_use`` blocks and tool results are ``tool_result`` blocks in a
user turn, consecutive turns of one role must be merged, the key goes in ``x-api-key``, and
a stream is a sequence of typed events (``message_start`` … ``message_stop``) with no
``[DONE]``. References: docs.anthropic.com/en/api/messages and …/messages-streaming.
"""
from __future__ import annotations

import json
from typing import Any, Callable

from ...errors import InputError
from .._parse import ShapeError
from .._types import ChatDelta, ChatResult
from .media import split_data_url

__all__ = ['chat']

# OpenAI parameter -> Messages API parameter (None: the same name)
_PARAMS = {'max_tokens': None, 'temperature': None, 'top_p': None, 'top_k': None,
           'stop': 'stop_sequences', 'stop_sequences': None, 'metadata': None,
           'thinking': None, 'service_tier': None, 'tool_choice': None, 'tools': None}
_FINISH: dict[str, str] = {
    'end_turn': 'stop', 'stop_sequence': 'stop', 'max_tokens': 'length',
    'tool_use': 'tool_calls', 'pause_turn': 'stop', 'refusal': 'content_filter'}


def _finish(reason: Any) -> str | None:
    """OpenAI's name for Anthropic's ``stop_reason`` (a value that is no string: none)."""
    return _FINISH.get(reason, reason) if isinstance(reason, str) else None


def _image(url: str) -> dict:
    if url.startswith('data:'):
        media_type, data = split_data_url(url)
        return {'type': 'image', 'source': {'type': 'base64', 'media_type': media_type,
                                            'data': data}}
    return {'type': 'image', 'source': {'type': 'url', 'url': url}}


def _blocks(content: Any) -> list | str:
    if isinstance(content, str) or content is None:
        return content or ''
    blocks = []
    for part in content:
        kind = part.get('type')
        if kind == 'text':
            blocks.append({'type': 'text', 'text': part.get('text', '')})
        elif kind == 'image_url':
            blocks.append(_image((part.get('image_url') or {}).get('url', '')))
        else:
            raise InputError(f'a {kind!r} content part cannot be sent to Claude: send text and '
                             f'image parts only')
    return blocks


def _tool_use(call: dict) -> dict:
    fn = call.get('function') or {}
    try:
        args = json.loads(fn.get('arguments') or '{}')
    except ValueError as e:
        raise InputError(f'tool call {call.get("id")!r} has arguments that are not JSON ({e}): '
                         f'pass the assistant message the model returned, unchanged') from None
    return {'type': 'tool_use', 'id': call.get('id', ''), 'name': fn.get('name', ''),
            'input': args}


def _turns(messages: list) -> tuple[str, list]:
    """(system text, Messages API turns) from OpenAI messages."""
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for m in messages:
        role = m['role']
        content: list | str
        if role in ('system', 'developer'):
            system.append(m['content'] if isinstance(m['content'], str) else
                          ''.join(p.get('text', '') for p in m['content']))
            continue
        if role == 'tool':
            role, content = 'user', [{'type': 'tool_result', 'tool_use_id': m.get('tool_call_id',
                                                                                  ''),
                                      'content': m.get('content') or ''}]
        elif role == 'assistant' and m.get('tool_calls'):
            text = m.get('content')
            content = ([{'type': 'text', 'text': text}] if text else []) + \
                [_tool_use(c) for c in m['tool_calls']]
        elif role in ('user', 'assistant'):
            content = _blocks(m.get('content'))
        else:
            raise InputError(f'role {role!r} cannot be sent to Claude: use system, user, '
                             f'assistant or tool')
        if turns and turns[-1]['role'] == role:   # the API wants alternating turns
            last = turns[-1]
            if isinstance(last['content'], str):
                last['content'] = [{'type': 'text', 'text': last['content']}]
            last['content'] += ([{'type': 'text', 'text': content}]
                                if isinstance(content, str) else content)
        else:
            turns.append({'role': role, 'content': content})
    return '\n\n'.join(system), turns


def _tools(tools: list) -> list:
    return [{'name': t['function']['name'],
             'description': t['function'].get('description', ''),
             'input_schema': t['function'].get('parameters') or {'type': 'object',
                                                                 'properties': {}}}
            for t in tools]


def _tool_choice(choice: Any) -> Any:
    if choice in ('auto', 'none'):
        return {'type': choice}
    if choice == 'required':
        return {'type': 'any'}
    if isinstance(choice, dict) and isinstance(choice.get('function'), dict):
        return {'type': 'tool', 'name': choice['function'].get('name')}
    return choice


def request_body(messages: list, model: str | None, params: dict, stream: bool,
                 defaults: dict) -> dict:
    """The ``/v1/messages`` body for OpenAI ``messages`` and parameters."""
    if not model:
        raise InputError('Claude needs a model name: pass model=, e.g. "claude-sonnet-4-5"')
    body: dict = {'model': model}
    for key, value in {**defaults, **params}.items():
        if key not in _PARAMS:
            raise InputError(f'{key}= is not a parameter of the Anthropic messages API: use '
                             f'{", ".join(sorted(_PARAMS))}')
        body[_PARAMS[key] or key] = value
    if isinstance(body.get('stop_sequences'), str):
        body['stop_sequences'] = [body['stop_sequences']]
    if body.get('tools'):
        body['tools'] = _tools(body['tools'])
    if 'tool_choice' in body:
        body['tool_choice'] = _tool_choice(body['tool_choice'])
    system, body['messages'] = _turns(messages)
    if system:
        body['system'] = system
    if stream:
        body['stream'] = True
    return body


def _usage(usage: Any) -> dict | None:
    if not isinstance(usage, dict):
        return None
    prompt, completion = usage.get('input_tokens') or 0, usage.get('output_tokens') or 0
    return {'prompt_tokens': prompt, 'completion_tokens': completion,
            'total_tokens': prompt + completion}


def parse_message(data: Any) -> ChatResult:
    """A whole ``message`` object -> ChatResult (text, thinking and tool calls apart)."""
    if not isinstance(data, dict) or not isinstance(data.get('content'), list):
        raise ShapeError(f'expected a message with a "content" list, got {data!r:.200}')
    text, thinking, calls = [], [], []
    for block in data['content']:
        kind = block.get('type')
        if kind == 'text':
            text.append(block.get('text', ''))
        elif kind == 'thinking':
            thinking.append(block.get('thinking', ''))
        elif kind == 'tool_use':
            calls.append({'id': block.get('id', ''), 'type': 'function',
                          'function': {'name': block.get('name', ''),
                                       'arguments': json.dumps(block.get('input') or {},
                                                               ensure_ascii=False)}})
    return ChatResult(''.join(text), ''.join(thinking), calls,
                      _finish(data.get('stop_reason')),
                      _usage(data.get('usage')), data.get('model'), data)


class StreamParser:
    """Turns the typed events of one streamed message into ChatDeltas (one per call)."""

    def __init__(self) -> None:
        self.usage: dict = {}
        self.model = None

    def __call__(self, event: Any) -> ChatDelta | None:
        kind = event.get('type') if isinstance(event, dict) else None
        if kind == 'message_start':
            message = event.get('message') or {}
            self.model = message.get('model')
            self.usage.update(message.get('usage') or {})
            return ChatDelta(raw={'model': self.model})
        if kind == 'content_block_start':
            block, index = event.get('content_block') or {}, event.get('index', 0)
            if block.get('type') == 'tool_use':
                return ChatDelta(tool_calls=[{'index': index, 'id': block.get('id', ''),
                                              'type': 'function',
                                              'function': {'name': block.get('name', ''),
                                                           'arguments': ''}}], raw=event)
            if block.get('type') == 'text' and block.get('text'):
                return ChatDelta(content=block['text'], raw=event)
            return None
        if kind == 'content_block_delta':
            delta, index = event.get('delta') or {}, event.get('index', 0)
            dtype = delta.get('type')
            if dtype == 'text_delta':
                return ChatDelta(content=delta.get('text', ''), raw=event)
            if dtype == 'thinking_delta':
                return ChatDelta(reasoning_content=delta.get('thinking', ''), raw=event)
            if dtype == 'input_json_delta':
                return ChatDelta(tool_calls=[{'index': index, 'function': {
                    'arguments': delta.get('partial_json', '')}}], raw=event)
            return None
        if kind == 'message_delta':
            self.usage.update(event.get('usage') or {})
            reason = (event.get('delta') or {}).get('stop_reason') or 'end_turn'
            return ChatDelta(finish_reason=_finish(reason),
                             usage=_usage(self.usage), raw=event)
        if kind in ('message_stop', 'content_block_stop', 'ping'):
            return None
        if kind is None:
            raise ShapeError(f'a stream event has no "type": {event!r:.200}')
        return None   # event types added later by Anthropic are skipped, as its docs advise


def chat(messages: list, model: str | None, params: dict, stream: bool, supplier: Any,
         url: str) -> Callable[[Any], Any]:
    body = request_body(messages, model, params, stream, dict(supplier.chat_defaults))
    if stream:
        return lambda c: c.stream_events('messages', json=body, parse=StreamParser())
    return lambda c: c.request('POST', 'messages', json=body, parse=parse_message)
