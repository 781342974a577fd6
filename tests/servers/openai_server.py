"""A real OpenAI-compatible HTTP server for tests and benchmarks (stdlib only).

It binds 127.0.0.1 on a free port, serves in a background thread over HTTP/1.1 keep-alive,
and answers deterministically (the answers are built in ``openai_answers``), so tests can
assert exact values over real sockets:

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
- With ``api_key`` set, a request without ``Authorization: Bearer <api_key>`` gets 401.

Faults are scripted per test with :meth:`OpenAIServer.fail`, :meth:`~OpenAIServer.drop`,
:meth:`~OpenAIServer.malformed`, :meth:`~OpenAIServer.cut_stream`,
:meth:`~OpenAIServer.error_event` and :meth:`~OpenAIServer.slow`; each applies to the next
``times`` requests whose path ends with ``path`` (any path when None; ``times=None`` means
every request). Every request is recorded (method, path, headers, JSON body, arrival time).

    with OpenAIServer() as srv:
        srv.fail(429, retry_after=1)
        ...  # call srv.base_url ("http://127.0.0.1:<port>/v1/")
        assert srv.count('/v1/chat/completions') == 2

Run ``python -m tests.servers.openai_server --port 8000`` to serve until Ctrl-C.
"""
from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import openai_answers as answers
from .openai_answers import embed_vector, rerank_score

__all__ = ['OpenAIServer', 'Fault', 'Recorded', 'embed_vector', 'rerank_score']


@dataclass
class Fault:
    """One scripted misbehaviour. ``kind`` is one of: ``status`` (answer ``status`` with
    ``body`` and ``headers``), ``drop`` (close the connection without answering),
    ``malformed`` (200 with ``body`` as the JSON body), ``cut`` (close the connection after
    ``after`` content chunks, without the terminating chunk), ``error_event`` (send
    ``{"error": …}`` after ``after`` chunks), ``slow`` (answer normally but late)."""
    kind: str
    path: str | None = None
    times: int | None = 1
    status: int = 500
    body: bytes | None = None
    headers: dict = field(default_factory=dict)
    after: int = 2
    delay: float = 0.0        # seconds before the status line
    chunk_delay: float = 0.0  # seconds between streamed chunks


@dataclass
class Recorded:
    """One request as the server received it."""
    method: str
    path: str
    headers: dict
    json: Any
    body: bytes
    time: float
    client_port: int = 0  # the client's TCP port: equal ports = one kept-alive connection


class _Stop(Exception):
    """The server is stopping: abandon the request."""


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = False   # so server_close() joins every handler thread
    block_on_close = True
    allow_reuse_address = True

    def __init__(self, owner: OpenAIServer, address: tuple[str, int]):
        self.owner = owner
        self.conns: set[socket.socket] = set()
        self.conns_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request, client_address):
        with self.conns_lock:
            self.conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self.conns_lock:
            self.conns.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address):  # clients hang up on purpose in tests
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    disable_nagle_algorithm = True
    timeout = 60
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    # -- plumbing ---------------------------------------------------------------------------
    def _handle(self) -> None:
        owner = self.server.owner
        length = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(length) if length else b''
        try:
            data = json.loads(body) if body else None
        except ValueError:
            data = None
        headers = {k.lower(): v for k, v in self.headers.items()}
        owner._record(Recorded(self.command, self.path, headers, data, body, time.monotonic(),
                               self.client_address[1]))
        fault = owner._take_fault(self.path)
        try:
            if fault and fault.delay:
                owner._wait(fault.delay)
            self._answer(owner, fault, data if isinstance(data, dict) else {}, headers)
        except (_Stop, OSError):
            self.close_connection = True

    def _write(self, status: int, body: bytes, content_type: str = 'application/json',
               headers: dict | None = None) -> None:
        lines = [f'HTTP/1.1 {status} {_phrase(status)}', f'Content-Type: {content_type}',
                 f'Content-Length: {len(body)}']
        lines += [f'{k}: {v}' for k, v in (headers or {}).items()]
        self.wfile.write(('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1') + body)

    def _json(self, obj: Any, status: int = 200, headers: dict | None = None) -> None:
        self._write(status, json.dumps(obj).encode(), headers=headers)

    def _hang_up(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # -- routing ----------------------------------------------------------------------------
    def _answer(self, owner: OpenAIServer, fault: Fault | None, req: dict, headers: dict):
        kind = fault.kind if fault else None
        if kind == 'drop':
            return self._hang_up()
        if owner.api_key and headers.get('authorization') != f'Bearer {owner.api_key}':
            return self._json(answers.error('invalid API key', 'authentication_error', 401), 401)
        if kind == 'status':
            body = fault.body if fault.body is not None else json.dumps(answers.error(
                f'injected HTTP {fault.status}', 'injected', fault.status)).encode()
            return self._write(fault.status, body, headers=fault.headers)
        if kind == 'malformed':
            return self._write(200, fault.body if fault.body is not None else b'{"choices": [')
        route = (self.command, self.path.split('?', 1)[0])
        if route == ('GET', '/health'):
            return self._write(200, b'')
        if route == ('GET', '/v1/models'):
            return self._json(answers.models(owner.model))
        if route == ('POST', '/v1/embeddings'):
            return self._json(answers.embeddings(req, owner.model, owner.embed_dim))
        if route == ('POST', '/v1/rerank'):
            return self._json(answers.rerank(req, owner.model, owner.rerank_shape))
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
            return self._fault_body(fault)
        self._json(answer)

    # -- streaming --------------------------------------------------------------------------
    def _stream(self, chunks: list[dict], fault: Fault | None) -> None:
        owner = self.server.owner
        self.wfile.write(b'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n'
                         b'Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n')
        kind = fault.kind if fault else None
        sent = 0  # chunks with content text sent so far
        for i, chunk in enumerate(chunks):
            if kind in ('cut', 'error_event') and sent == fault.after and answers.carries_text(
                    chunk):
                if kind == 'cut':
                    return self._hang_up()
                self._event(json.dumps(answers.error('injected mid-stream error', 'server_error',
                                                     500)))
                break
            if fault and fault.chunk_delay and i:
                owner._wait(fault.chunk_delay)
            self._event(json.dumps(chunk))
            sent += answers.carries_text(chunk)
        if owner.send_done:
            self._event('[DONE]')
        self.wfile.write(b'0\r\n\r\n')

    def _event(self, data: str) -> None:
        payload = f'data: {data}\n\n'.encode()
        self.wfile.write(b'%x\r\n%s\r\n' % (len(payload), payload))

    def _fault_body(self, fault: Fault) -> None:
        """``cut`` / ``error_event`` on a non-streamed call: a truncated body, or an error
        object sent with status 200."""
        if fault.kind == 'error_event':
            return self._json(answers.error('injected error with status 200', 'server_error', 500))
        self.wfile.write(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n'
                         b'Content-Length: 1000\r\n\r\n{"choices": [{"mess')
        self._hang_up()


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return 'Unknown'


class OpenAIServer:
    """The server; see the module docstring. Start with ``with`` or :meth:`start`."""

    def __init__(self, *, api_key: str | None = None, model: str = 'echo-model',
                 host: str = '127.0.0.1', port: int = 0, embed_dim: int = 8,
                 rerank_shape: str = 'results', send_done: bool = True):
        self.api_key = api_key
        self.send_done = send_done  # False: streams end after the last chunk, without [DONE]
        self.model = model
        self.embed_dim = embed_dim
        self.rerank_shape = rerank_shape
        self._address = (host, port)
        self._faults: list[Fault] = []
        self._requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> OpenAIServer:
        if self._httpd is None:
            self._stopping.clear()
            self._httpd = _HTTPServer(self, self._address)
            self._thread = threading.Thread(target=self._httpd.serve_forever,
                                            kwargs={'poll_interval': 0.05},
                                            name='openai-test-server', daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, hang up every open connection and join every thread."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        with httpd.conns_lock:
            conns = list(httpd.conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        httpd.server_close()  # joins the handler threads
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError('the server is not running: call start() first')
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        """The server root, e.g. ``http://127.0.0.1:54321``."""
        return f'http://{self._address[0]}:{self.port}'

    @property
    def base_url(self) -> str:
        """The OpenAI base URL, e.g. ``http://127.0.0.1:54321/v1/``."""
        return self.url + '/v1/'

    # -- requests received ------------------------------------------------------------------
    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._requests)

    def count(self, path: str | None = None) -> int:
        """How many requests arrived (whose path ends with ``path``, when given)."""
        return sum(1 for r in self.requests if path is None or r.path.endswith(path))

    def clear(self) -> None:
        """Forget the recorded requests and any faults not used yet."""
        with self._lock:
            self._requests.clear()
            self._faults.clear()

    def _record(self, request: Recorded) -> None:
        with self._lock:
            self._requests.append(request)

    # -- faults -----------------------------------------------------------------------------
    def inject(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def fail(self, status: int, *, times: int | None = 1, retry_after: float | str | None = None,
             body: bytes | None = None, path: str | None = None) -> Fault:
        """Answer ``status`` (with ``Retry-After`` when given) to the next ``times`` requests."""
        headers = {} if retry_after is None else {'Retry-After': str(retry_after)}
        return self.inject(Fault('status', path, times, status=status, body=body,
                                 headers=headers))

    def drop(self, *, times: int | None = 1, path: str | None = None) -> Fault:
        """Close the connection without answering."""
        return self.inject(Fault('drop', path, times))

    def malformed(self, body: bytes = b'{"choices": [', *, times: int | None = 1,
                  path: str | None = None) -> Fault:
        """Answer 200 with ``body`` (not valid JSON by default)."""
        return self.inject(Fault('malformed', path, times, body=body))

    def cut_stream(self, after: int = 2, *, times: int | None = 1,
                   path: str | None = None) -> Fault:
        """Close the connection after ``after`` content chunks, without ``[DONE]``."""
        return self.inject(Fault('cut', path, times, after=after))

    def error_event(self, after: int = 1, *, times: int | None = 1,
                    path: str | None = None) -> Fault:
        """Send an ``{"error": …}`` event after ``after`` content chunks."""
        return self.inject(Fault('error_event', path, times, after=after))

    def slow(self, delay: float = 0.0, *, chunk_delay: float = 0.0, times: int | None = 1,
             path: str | None = None) -> Fault:
        """Wait ``delay`` s before the status line and ``chunk_delay`` s between chunks."""
        return self.inject(Fault('slow', path, times, delay=delay, chunk_delay=chunk_delay))

    def _take_fault(self, path: str) -> Fault | None:
        route = path.split('?', 1)[0]
        with self._lock:
            for fault in self._faults:
                if fault.path is None or route.endswith(fault.path):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self._faults.remove(fault)
                    return fault
        return None

    def _wait(self, seconds: float) -> None:
        if self._stopping.wait(seconds):
            raise _Stop()


def main(argv: list[str] | None = None) -> None:
    import argparse
    parser = argparse.ArgumentParser(description='Serve the OpenAI-compatible test server.')
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=8000, help='0 picks a free port')
    parser.add_argument('--api-key', default=None)
    args = parser.parse_args(argv)
    with OpenAIServer(host=args.host, port=args.port, api_key=args.api_key) as srv:
        print(f'serving {srv.base_url} (Ctrl-C to stop)', flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == '__main__':
    main()
