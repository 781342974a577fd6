"""A real HTTP server that speaks the Anthropic Messages API, for tests (stdlib only).

It follows https://docs.anthropic.com/en/api/messages (and ``…/messages-streaming``,
``…/errors``), binds 127.0.0.1 on a free port and answers deterministically (the answers are
built in ``anthropic_answers``):

- ``POST /v1/messages``. Needs ``x-api-key: <api_key>`` when ``api_key`` is set (else 401
  ``authentication_error``) and an ``anthropic-version`` header (else 400
  ``invalid_request_error``). ``model``, ``max_tokens`` and a non-empty ``messages`` list are
  required, roles are only ``user``/``assistant`` (a ``system`` role: 400; ``system`` is a
  top-level field) -> 400 ``invalid_request_error``.
  The answer echoes the text blocks of the last user message (" [images: K]" appended when
  it has K image blocks); a model name containing ``think`` (or ``thinking.type ==
  'enabled'``) adds a first ``thinking`` block "Thinking about: <text>" (signature ``sig``);
  with ``tools`` (and no ``tool_choice`` of type ``none``) the answer is one ``tool_use``
  block (id ``toolu_1``, the first tool, input ``{"text": <text>}``, stop_reason
  ``tool_use``), unless the last user message holds a ``tool_result``: then the text is
  "tool said: <its content>". ``max_tokens`` caps the words (stop_reason ``max_tokens``).
  usage: input_tokens = words of all messages + system, output_tokens = words answered (for
  tool_use: the words of the input text).
  ``"stream": true`` answers Anthropic SSE (``event: <type>\\ndata: <json>\\n\\n``):
  message_start, ping, per block content_block_start / content_block_delta (``text_delta``
  one word each; ``thinking_delta`` one word each then ``signature_delta``;
  ``input_json_delta`` in 2 pieces) / content_block_stop, message_delta, message_stop.
- ``POST /v1/messages/count_tokens`` answers ``{"input_tokens": N}``; ``GET /v1/models`` lists
  ``model``.
- Every answer carries a ``request-id`` header.

Faults (shared API, see ``_base``): ``fail(status)`` sends the Anthropic error body of the
status (``rate_limit_error`` for 429, ``overloaded_error`` for 529, ...) unless ``body`` is
given (``anthropic_error(type, message)`` builds one); ``error_event(after=k)`` sends
``event: error`` (``overloaded_error``) after k ``content_block_delta`` events and ends the
stream; ``cut_stream(after=k)`` hangs up after k of them; ``drop``, ``malformed``, ``slow``.

    with AnthropicServer(api_key='k') as srv:
        ...  # base URL srv.url (the SDK appends /v1/messages)
"""
from __future__ import annotations

import itertools
import json

from . import anthropic_answers as answers
from ._base import Fault, Handler, Recorded, TestServer, serve_main
from .anthropic_answers import anthropic_error

__all__ = ['AnthropicServer', 'anthropic_error', 'Fault', 'Recorded']

_OVERLOADED = anthropic_error('overloaded_error', 'Overloaded')


def _sse(event: str, data: dict) -> bytes:
    return f'event: {event}\ndata: {json.dumps(data)}\n\n'.encode()


class _Handler(Handler):
    def _auth_error(self, headers: dict):
        key = self.server.owner.api_key
        if key and headers.get('x-api-key') != key:
            return 401, anthropic_error('authentication_error', 'invalid x-api-key')
        if 'anthropic-version' not in headers:
            return 400, anthropic_error('invalid_request_error',
                                        'anthropic-version: header is required')
        return None

    def _route(self, owner: AnthropicServer, fault: Fault | None, req: dict, headers: dict):
        route = (self.command, self.record.route)
        rid = {'request-id': f'req_{next(owner._ids):06d}'}
        if route == ('GET', '/v1/models'):
            return self._json({'data': [{'type': 'model', 'id': owner.model,
                                         'display_name': owner.model,
                                         'created_at': '2025-01-01T00:00:00Z'}],
                               'has_more': False, 'first_id': owner.model,
                               'last_id': owner.model}, headers=rid)
        if route not in (('POST', '/v1/messages'), ('POST', '/v1/messages/count_tokens')):
            return self._json(anthropic_error('not_found_error',
                                              f'Not found: {route[0]} {route[1]}'), 404, rid)
        body = self.record.json
        if route[1].endswith('count_tokens'):
            if isinstance(body, dict) and body.get('model'):
                body = dict(body, max_tokens=1)  # not needed to count
        problem = answers.validate(body)
        if problem:
            return self._json(anthropic_error('invalid_request_error', problem), 400, rid)
        if route[1].endswith('count_tokens'):
            return self._json({'input_tokens': answers.count_tokens(req)}, headers=rid)
        msg = answers.message(req, f'msg_{next(owner._ids):06d}')
        if req.get('stream'):
            events = [(_sse(e, d), e == 'content_block_delta')
                      for e, d in answers.stream_events(msg)]
            return self._stream_events(events, fault, _sse('error', _OVERLOADED), headers=rid)
        if fault and fault.kind in ('cut', 'error_event'):
            return self._fault_body(fault, _OVERLOADED, b'{"id": "msg_0", "content": [{"ty')
        self._json(msg, headers=rid)


class AnthropicServer(TestServer):
    """The server; see the module docstring. Start with ``with`` or :meth:`start`."""
    handler = _Handler
    thread_name = 'anthropic-test-server'

    def __init__(self, *, api_key: str | None = None, model: str = 'claude-echo',
                 host: str = '127.0.0.1', port: int = 0):
        super().__init__(api_key=api_key, host=host, port=port)
        self.model = model  # listed by GET /v1/models
        self._ids = itertools.count(1)

    @property
    def base_url(self) -> str:
        """The Anthropic base URL (the root: clients append ``/v1/messages``)."""
        return self.url

    def error_body(self, status: int, route: str) -> bytes:
        type_ = answers.ERROR_TYPES.get(status, 'api_error')
        message = {'rate_limit_error': 'Number of requests has exceeded your rate limit',
                   'overloaded_error': 'Overloaded'}.get(type_, f'injected HTTP {status}')
        return json.dumps(anthropic_error(type_, message)).encode()


def main(argv: list[str] | None = None) -> None:
    serve_main(AnthropicServer, argv, 'Anthropic Messages API')


if __name__ == '__main__':
    main()
