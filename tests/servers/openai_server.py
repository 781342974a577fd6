"""A real OpenAI-compatible HTTP server for tests and benchmarks (stdlib only).

It binds 127.0.0.1 on a free port, serves in a background thread over HTTP/1.1 keep-alive,
and answers deterministically (the answers are built in ``openai_answers``), so tests can
assert exact values over real sockets. It follows the OpenAI API reference
(https://platform.openai.com/docs/api-reference):

- ``POST /v1/chat/completions`` echoes the text of the last user message (streamed one word
  per chunk, with a role chunk first, a finish chunk, a usage-only chunk when
  ``stream_options.include_usage`` and ``data: [DONE]``). A model name containing
  ``reason`` also answers ``reasoning_content`` ("Thinking about: <text>"); a request with
  ``tools`` answers a call of the first tool with ``{"text": <text>}`` as arguments.
  ``max_tokens`` caps the number of words (finish_reason ``length``).
- ``POST /v1/completions`` echoes the prompt; ``POST /v1/embeddings`` gives ``embed_dim``
  floats per text derived from its SHA-256, listed in reverse order (each with its
  ``index``), base64 when ``encoding_format='base64'``; ``POST /v1/rerank`` scores each
  document by the share of query words it contains (``results`` shape, best first, or
  ``data`` shape in document order when ``rerank_shape='data'``); ``GET /v1/models`` lists
  ``model``; ``GET /health`` answers 200 with an empty body.
- ``POST /v1/audio/transcriptions`` (multipart: ``file``, ``model``, ``language``,
  ``prompt``, ``response_format``) answers ``{"text": "heard <n> bytes of <filename>"}``
  (text/plain for ``response_format=text``; 400 without ``file``).
- ``POST /v1/audio/speech`` (JSON: ``model``, ``input``, ``voice``, ``response_format``)
  answers ``speech_bytes(input, format)``: a real tiny WAV (audio/wav) for ``wav``, else
  ``b'ID3' + sha256(input)`` (audio/mpeg for the default ``mp3``).
- ``POST /v1/images/generations`` answers ``n`` images, each a valid 1x1 PNG
  (``tiny_png()``): ``{"b64_json": …}`` for ``response_format='b64_json'`` (the default for
  ``gpt-image-*`` models), else ``{"url": "<url>/files/img-<k>.png"}`` served by
  ``GET /files/<name>`` (no auth; ``k`` counts up per server).
- ``POST /v1/images/edits`` (multipart: ``image``, ``prompt``, ``model``) answers like
  ``images/generations`` (``b64_json`` by default); 400 without ``image`` or ``prompt``.
- With ``api_key`` set, a request without ``Authorization: Bearer <api_key>`` gets 401
  (``/files/…`` excepted).

Faults are scripted per test with :meth:`OpenAIServer.fail`, :meth:`~OpenAIServer.drop`,
:meth:`~OpenAIServer.malformed`, :meth:`~OpenAIServer.cut_stream`,
:meth:`~OpenAIServer.error_event` and :meth:`~OpenAIServer.slow`; each applies to the next
``times`` requests whose path ends with ``path`` (any path when None; ``times=None`` means
every request). Every request is recorded (method, path, headers, JSON body, raw body,
multipart form/files, arrival time); the plumbing is in ``_base``.

    with OpenAIServer() as srv:
        srv.fail(429, retry_after=1)
        ...  # call srv.base_url ("http://127.0.0.1:<port>/v1/")
        assert srv.count('/v1/chat/completions') == 2

Run ``python -m tests.servers.openai_server --port 8000`` to serve until Ctrl-C.
"""
from __future__ import annotations

import base64
import itertools
import json

from . import openai_answers as answers
from ._base import Fault, Handler, Recorded, TestServer, serve_main
from .openai_answers import embed_vector, rerank_score

__all__ = ['OpenAIServer', 'Fault', 'Recorded', 'embed_vector', 'rerank_score']


class _Handler(Handler):
    def _auth_error(self, headers: dict):
        key = self.server.owner.api_key
        if key and headers.get('authorization') != f'Bearer {key}':
            return 401, answers.error('invalid API key', 'authentication_error', 401)
        return None

    def _route(self, owner: OpenAIServer, fault: Fault | None, req: dict, headers: dict):
        kind = fault.kind if fault else None
        route = (self.command, self.record.route)
        if route == ('GET', '/health'):
            return self._write(200, b'')
        if route == ('GET', '/v1/models'):
            return self._json(answers.models(owner.model))
        if route == ('POST', '/v1/embeddings'):
            return self._json(answers.embeddings(req, owner.model, owner.embed_dim))
        if route == ('POST', '/v1/rerank'):
            return self._json(answers.rerank(req, owner.model, owner.rerank_shape))
        if route == ('POST', '/v1/audio/transcriptions'):
            return self._transcription()
        if route == ('POST', '/v1/audio/speech'):
            return self._speech(req)
        if route == ('POST', '/v1/images/generations'):
            return self._images(owner, req)
        if route == ('POST', '/v1/images/edits'):
            return self._edit(owner)
        if route == ('POST', '/v1/chat/completions'):
            answer = answers.chat(req, owner.model)
        elif route == ('POST', '/v1/completions'):
            answer = answers.completion(req, owner.model)
        else:
            return self._json(answers.error(f'no route {route[0]} {route[1]}', 'not_found', 404),
                              404)
        if isinstance(answer, list):
            return self._stream(answer, fault)
        if kind in ('cut', 'error_event'):
            return self._fault_body(fault, answers.error('injected error with status 200',
                                                         'server_error', 500))
        self._json(answer)

    def _bad(self, message: str, param: str | None = None) -> None:
        body = answers.error(message, 'invalid_request_error', 400)
        body['error']['param'] = param
        self._json(body, 400)

    def _transcription(self) -> None:
        form, files = self.record.form, self.record.files
        if 'file' not in files:
            return self._bad("you must provide a 'file'", 'file')
        filename, _, data = files['file']
        text = answers.transcript(filename, data)
        fmt = form.get('response_format', 'json')
        if fmt in ('text', 'srt', 'vtt'):
            return self._write(200, text.encode(), 'text/plain; charset=utf-8')
        if fmt == 'verbose_json':
            return self._json({'task': 'transcribe', 'language': form.get('language', 'english'),
                               'duration': 0.0, 'text': text, 'segments': []})
        self._json({'text': text})

    def _speech(self, req: dict) -> None:
        if not isinstance(req.get('input'), str):
            return self._bad("'input' is a required property", 'input')
        fmt = req.get('response_format') or 'mp3'
        if fmt not in answers.SPEECH_TYPES:
            return self._bad(f"invalid response_format {fmt!r}", 'response_format')
        self._write(200, answers.speech_bytes(req['input'], fmt), answers.SPEECH_TYPES[fmt])

    def _images(self, owner: OpenAIServer, req: dict) -> None:
        if not isinstance(req.get('prompt'), str):
            return self._bad("'prompt' is a required property", 'prompt')
        model = str(req.get('model') or '')
        fmt = req.get('response_format') or ('b64_json' if model.startswith('gpt-image')
                                             else 'url')
        png = answers.tiny_png()
        data = []
        for _ in range(int(req.get('n') or 1)):
            if fmt == 'b64_json':
                data.append({'b64_json': base64.b64encode(png).decode()})
            else:
                data.append({'url': owner.publish(f'img-{next(owner._image_ids)}.png', png),
                             'revised_prompt': req['prompt']})
        self._json({'created': 0, 'data': data})

    def _edit(self, owner: OpenAIServer) -> None:
        """``images/edits`` (multipart): the edited image is the uploaded one, as PNG data."""
        form, files = self.record.form, self.record.files
        if 'image' not in files:
            return self._bad("you must provide an 'image'", 'image')
        if not form.get('prompt'):
            return self._bad("'prompt' is a required property", 'prompt')
        self._images(owner, {'prompt': form['prompt'], 'model': form.get('model'),
                             'response_format': form.get('response_format') or 'b64_json'})

    def _stream(self, chunks: list[dict], fault: Fault | None) -> None:
        owner = self.server.owner
        events = [(f'data: {json.dumps(c)}\n\n'.encode(), answers.carries_text(c))
                  for c in chunks]
        error = answers.error('injected mid-stream error', 'server_error', 500)
        self._stream_events(events, fault, f'data: {json.dumps(error)}\n\n'.encode(),
                            tail=b'data: [DONE]\n\n' if owner.send_done else b'')


class OpenAIServer(TestServer):
    """The server; see the module docstring. Start with ``with`` or :meth:`start`."""
    handler = _Handler
    thread_name = 'openai-test-server'

    def __init__(self, *, api_key: str | None = None, model: str = 'echo-model',
                 host: str = '127.0.0.1', port: int = 0, embed_dim: int = 8,
                 rerank_shape: str = 'results', send_done: bool = True):
        super().__init__(api_key=api_key, host=host, port=port)
        self.send_done = send_done  # False: streams end after the last chunk, without [DONE]
        self.model = model
        self.embed_dim = embed_dim
        self.rerank_shape = rerank_shape
        self._image_ids = itertools.count(1)

    @property
    def base_url(self) -> str:
        """The OpenAI base URL, e.g. ``http://127.0.0.1:54321/v1/``."""
        return self.url + '/v1/'

    def error_body(self, status: int, route: str) -> bytes:
        return json.dumps(answers.error(f'injected HTTP {status}', 'injected', status)).encode()


def main(argv: list[str] | None = None) -> None:
    serve_main(OpenAIServer, argv, 'OpenAI-compatible')


if __name__ == '__main__':
    main()
