"""What the Anthropic test server answers: pure, deterministic functions of the request body
(no HTTP here; ``anthropic_server`` serves them and scripts the faults). Shapes follow the
Anthropic Messages API (https://docs.anthropic.com/en/api/messages, .../messages-streaming,
.../errors).
"""
from __future__ import annotations

import json
import re
from typing import Any

__all__ = ['anthropic_error', 'validate', 'message', 'stream_events', 'count_tokens',
           'ERROR_TYPES']

_WORD = re.compile(r'\S+\s*')

ERROR_TYPES = {400: 'invalid_request_error', 401: 'authentication_error',
               403: 'permission_error', 404: 'not_found_error', 413: 'request_too_large',
               429: 'rate_limit_error', 500: 'api_error', 529: 'overloaded_error'}


def anthropic_error(type_: str, message: str) -> dict:
    """An Anthropic error body: ``{"type": "error", "error": {"type", "message"}}``."""
    return {'type': 'error', 'error': {'type': type_, 'message': message}}


def _blocks(content: Any) -> list[dict]:
    if isinstance(content, str):
        return [{'type': 'text', 'text': content}]
    return [b for b in content or [] if isinstance(b, dict)]


def _text(content: Any) -> str:
    return ' '.join(b.get('text', '') for b in _blocks(content) if b.get('type') == 'text')


def _all_text(content: Any) -> str:
    """Every word a message carries (text and tool results), for the token counts."""
    parts = []
    for b in _blocks(content):
        if b.get('type') == 'text':
            parts.append(b.get('text', ''))
        elif b.get('type') == 'tool_result':
            parts.append(_text(b.get('content')))
    return ' '.join(parts)


def validate(req: Any) -> str | None:
    """The ``invalid_request_error`` message for a bad request, or None."""
    if not isinstance(req, dict):
        return 'request body must be a JSON object'
    if not req.get('model'):
        return 'model: Field required'
    if not isinstance(req.get('max_tokens'), int) or isinstance(req.get('max_tokens'), bool):
        return 'max_tokens: Field required'
    messages = req.get('messages')
    if not isinstance(messages, list) or not messages:
        return 'messages: Field required'
    for i, m in enumerate(messages):
        role = m.get('role') if isinstance(m, dict) else None
        if role == 'system':
            return ('messages: Unexpected role "system". The Messages API accepts a top-level '
                    '`system` parameter, not "system" as an input message role.')
        if role not in ('user', 'assistant'):
            return f'messages.{i}.role: Input should be \'user\' or \'assistant\''
    return None


def count_tokens(req: dict) -> int:
    """input_tokens: the words of every message and of ``system``."""
    system = req.get('system')
    n = len(_all_text(system).split()) if system else 0
    return n + sum(len(_all_text(m.get('content')).split()) for m in req.get('messages') or [])


def message(req: dict, msg_id: str = 'msg_0') -> dict:
    """The non-streamed answer (see ``anthropic_server`` for the rules)."""
    messages = req['messages']
    last = next((m for m in reversed(messages) if m.get('role') == 'user'), {})
    blocks = _blocks(last.get('content'))
    results = [b for b in blocks if b.get('type') == 'tool_result']
    text = _text(last.get('content'))
    images = sum(1 for b in blocks if b.get('type') == 'image')
    if images:
        text += f' [images: {images}]'
    if results:
        text = f'tool said: {_text(results[-1].get("content"))}'
    content: list[dict] = []
    thinking = req.get('thinking') or {}
    if 'think' in req['model'] or thinking.get('type') == 'enabled':
        content.append({'type': 'thinking', 'thinking': f'Thinking about: {text}',
                        'signature': 'sig'})
    tools = req.get('tools') or []
    if (req.get('tool_choice') or {}).get('type') == 'none':
        tools = []
    if tools and not results:
        content.append({'type': 'tool_use', 'id': 'toolu_1', 'name': tools[0]['name'],
                        'input': {'text': text}})
        stop, out = 'tool_use', len(text.split())
    else:
        words = _WORD.findall(text)
        stop = 'end_turn'
        if len(words) > req['max_tokens']:
            words, stop = words[:req['max_tokens']], 'max_tokens'
        content.append({'type': 'text', 'text': ''.join(words)})
        out = len(words)
    return {'id': msg_id, 'type': 'message', 'role': 'assistant', 'model': req['model'],
            'content': content, 'stop_reason': stop, 'stop_sequence': None,
            'usage': {'input_tokens': count_tokens(req), 'output_tokens': out}}


def stream_events(msg: dict) -> list[tuple[str, dict]]:
    """The streamed form of ``msg``: ``(event type, data)`` pairs."""
    start = dict(msg, content=[], stop_reason=None, stop_sequence=None,
                 usage={'input_tokens': msg['usage']['input_tokens'], 'output_tokens': 1})
    events: list[tuple[str, dict]] = [('message_start', {'type': 'message_start',
                                                         'message': start}),
                                      ('ping', {'type': 'ping'})]
    for i, block in enumerate(msg['content']):
        kind = block['type']
        if kind == 'text':
            first = {'type': 'text', 'text': ''}
            deltas = [{'type': 'text_delta', 'text': w} for w in _WORD.findall(block['text'])]
        elif kind == 'thinking':
            first = {'type': 'thinking', 'thinking': ''}
            deltas = [{'type': 'thinking_delta', 'thinking': w}
                      for w in _WORD.findall(block['thinking'])]
            deltas.append({'type': 'signature_delta', 'signature': block['signature']})
        else:  # tool_use
            first = dict(block, input={})
            args = json.dumps(block['input'])
            half = len(args) // 2
            deltas = [{'type': 'input_json_delta', 'partial_json': p}
                      for p in (args[:half], args[half:])]
        events.append(('content_block_start', {'type': 'content_block_start', 'index': i,
                                               'content_block': first}))
        events += [('content_block_delta', {'type': 'content_block_delta', 'index': i,
                                            'delta': d}) for d in deltas]
        events.append(('content_block_stop', {'type': 'content_block_stop', 'index': i}))
    events.append(('message_delta', {'type': 'message_delta',
                                     'delta': {'stop_reason': msg['stop_reason'],
                                               'stop_sequence': None},
                                     'usage': {'output_tokens': msg['usage']['output_tokens']}}))
    events.append(('message_stop', {'type': 'message_stop'}))
    return events
