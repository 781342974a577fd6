"""The plumbing the supplier test servers share (stdlib only): a threaded HTTP/1.1 server on
127.0.0.1 that records every request, scripted faults, start/stop that joins every thread,
chunked SSE writing and a multipart/form-data parser.

A server is a :class:`TestServer` subclass with a :class:`Handler` subclass that adds routes
(``_route``), authentication (``_auth_error``) and the provider's error bodies
(``TestServer.error_body``). ``openai_server``, ``anthropic_server`` and ``dashscope_server``
are built on it.

Faults are scripted per test with :meth:`TestServer.fail`, :meth:`~TestServer.drop`,
:meth:`~TestServer.malformed`, :meth:`~TestServer.cut_stream`, :meth:`~TestServer.error_event`
and :meth:`~TestServer.slow`; each applies to the next ``times`` requests whose path (query
left out) ends with ``path`` (any path when None; ``times=None`` means every request).
"""
from __future__ import annotations

import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

__all__ = ['TestServer', 'Handler', 'Fault', 'Recorded', 'parse_multipart', 'serve_main']


@dataclass
class Fault:
    """One scripted misbehaviour. ``kind`` is one of: ``status`` (answer ``status`` with
    ``body`` and ``headers``), ``drop`` (close the connection without answering),
    ``malformed`` (200 with ``body`` as the JSON body), ``cut`` (close the connection after
    ``after`` content events, without the terminating chunk), ``error_event`` (send the
    provider's error event after ``after`` content events), ``slow`` (answer normally but
    late)."""
    kind: str
    path: str | None = None
    times: int | None = 1
    status: int = 500
    body: bytes | None = None
    headers: dict = field(default_factory=dict)
    after: int = 2
    delay: float = 0.0        # seconds before the status line
    chunk_delay: float = 0.0  # seconds between streamed events


@dataclass
class Recorded:
    """One request as the server received it. ``json`` is the parsed JSON body (None when the
    body is not JSON); for multipart/form-data, ``form`` maps field name -> str value and
    ``files`` maps field name -> ``(filename, content_type, bytes)`` (parts with a filename)."""
    method: str
    path: str           # with the query string
    headers: dict       # lowercased names
    json: Any
    body: bytes         # the raw body
    time: float
    client_port: int = 0  # the client's TCP port: equal ports = one kept-alive connection
    form: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)

    @property
    def route(self) -> str:
        """The path without the query string."""
        return self.path.split('?', 1)[0]

    @property
    def query(self) -> dict:
        """The query parameters (the last value of each name)."""
        return dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))


def parse_multipart(content_type: str, body: bytes) -> tuple[dict, dict]:
    """``(form, files)`` of a multipart/form-data body; see :class:`Recorded`. Part headers
    are parsed by ``email``; the body is split on the boundary by hand, so binary parts are
    kept byte for byte."""
    match = re.search(r'boundary="?([^";]+)"?', content_type or '')
    form: dict = {}
    files: dict = {}
    if not match:
        return form, files
    delimiter = b'\r\n--' + match.group(1).encode('latin-1')
    for part in (b'\r\n' + body).split(delimiter)[1:]:
        if part.startswith(b'--'):
            break
        head, sep, data = part.partition(b'\r\n\r\n')
        if not sep:
            continue
        headers = BytesHeaderParser(policy=default_policy).parsebytes(head.lstrip(b'\r\n')
                                                                      + b'\r\n\r\n')
        name = headers.get_param('name', header='content-disposition')
        if not name:
            continue
        filename = headers.get_filename()
        if filename is None:
            form[name] = data.decode('utf-8', 'replace')
        else:
            files[name] = (filename, headers.get_content_type() if headers['content-type']
                           else 'application/octet-stream', data)
    return form, files


class _Stop(Exception):
    """The server is stopping: abandon the request."""


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = False   # so server_close() joins every handler thread
    block_on_close = True
    allow_reuse_address = True

    def __init__(self, owner: TestServer, address: tuple[str, int]):
        self.owner = owner
        self.conns: set[socket.socket] = set()
        self.conns_lock = threading.Lock()
        super().__init__(address, owner.handler)

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


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return 'Unknown'


class Handler(BaseHTTPRequestHandler):
    """The request handler base: reads, records, applies the fault, then ``_route``.

    Subclasses implement ``_route(owner, fault, req, headers)`` and may override
    ``_auth_error(headers)`` (return ``(status, body_obj)`` to refuse) and ``_is_public``.
    """
    protocol_version = 'HTTP/1.1'
    disable_nagle_algorithm = True
    timeout = 60
    server: _HTTPServer
    record: Recorded

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    # -- plumbing ---------------------------------------------------------------------------
    def _read_body(self) -> bytes:
        if 'chunked' in (self.headers.get('Transfer-Encoding') or '').lower():
            out = b''
            while True:
                size = int(self.rfile.readline().split(b';', 1)[0].strip() or b'0', 16)
                if not size:
                    while self.rfile.readline() not in (b'\r\n', b'\n', b''):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get('Content-Length') or 0)
        return self.rfile.read(length) if length else b''

    def _handle(self) -> None:
        owner = self.server.owner
        body = self._read_body()
        try:
            data = json.loads(body) if body else None
        except ValueError:
            data = None
        headers = {k.lower(): v for k, v in self.headers.items()}
        form, files = {}, {}
        if headers.get('content-type', '').lower().startswith('multipart/form-data'):
            form, files = parse_multipart(headers['content-type'], body)
        self.record = Recorded(self.command, self.path, headers, data, body, time.monotonic(),
                               self.client_address[1], form, files)
        owner._record(self.record)
        fault = owner._take_fault(self.path)
        try:
            if fault and fault.delay:
                owner._wait(fault.delay)
            self._answer(owner, fault, data if isinstance(data, dict) else {}, headers)
        except (_Stop, OSError):
            self.close_connection = True

    def _answer(self, owner: TestServer, fault: Fault | None, req: dict, headers: dict):
        kind = fault.kind if fault else None
        if kind == 'drop':
            return self._hang_up()
        route = self.record.route
        if not self._is_public(route):
            refused = self._auth_error(headers)
            if refused:
                return self._json(refused[1], refused[0])
        if kind == 'status':
            body = fault.body if fault.body is not None else owner.error_body(fault.status,
                                                                               route)
            return self._write(fault.status, body, headers=fault.headers)
        if kind == 'malformed':
            return self._write(200, fault.body if fault.body is not None else b'{"choices": [')
        if self.command == 'GET' and route.startswith('/files/'):
            found = owner.published(route[len('/files/'):])
            if found is None:
                return self._write(404, b'not found', 'text/plain')
            return self._write(200, found[1], found[0])
        return self._route(owner, fault, req, headers)

    def _is_public(self, route: str) -> bool:
        """Routes served without authentication (``/files/…`` by default)."""
        return route.startswith('/files/')

    def _auth_error(self, headers: dict) -> tuple[int, Any] | None:
        return None

    def _route(self, owner: TestServer, fault: Fault | None, req: dict, headers: dict):
        raise NotImplementedError

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

    # -- streaming --------------------------------------------------------------------------
    def _start_stream(self, content_type: str = 'text/event-stream',
                      headers: dict | None = None) -> None:
        lines = ['HTTP/1.1 200 OK', f'Content-Type: {content_type}', 'Cache-Control: no-cache',
                 'Transfer-Encoding: chunked']
        lines += [f'{k}: {v}' for k, v in (headers or {}).items()]
        self.wfile.write(('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1'))

    def _chunk(self, payload: bytes) -> None:
        """Write one HTTP chunk (one SSE event, usually)."""
        self.wfile.write(b'%x\r\n%s\r\n' % (len(payload), payload))

    def _event(self, data: str) -> None:
        """Write one ``data: <data>`` SSE event."""
        self._chunk(f'data: {data}\n\n'.encode())

    def _stream_events(self, events: list[tuple[bytes, bool]], fault: Fault | None,
                       error_event: bytes, tail: bytes = b'',
                       headers: dict | None = None) -> None:
        """Stream ``events`` (encoded SSE event, whether it carries content) as a chunked
        200 answer, applying ``cut`` / ``error_event`` after ``fault.after`` content events
        (``error_event`` sends ``error_event`` instead of the rest) and ``chunk_delay``;
        ``tail`` (e.g. ``data: [DONE]``) is sent last, also after an error event."""
        owner = self.server.owner
        self._start_stream(headers=headers)
        kind = fault.kind if fault else None
        sent = 0  # content events sent so far
        for i, (payload, content) in enumerate(events):
            if kind in ('cut', 'error_event') and sent == fault.after and content:
                if kind == 'cut':
                    return self._hang_up()
                self._chunk(error_event)
                break
            if fault and fault.chunk_delay and i:
                owner._wait(fault.chunk_delay)
            self._chunk(payload)
            sent += bool(content)
        if tail:
            self._chunk(tail)
        self.wfile.write(b'0\r\n\r\n')

    def _fault_body(self, fault: Fault, error_obj: Any, start: bytes = b'{"choices": [{"mess'):
        """``cut`` / ``error_event`` on a non-streamed call: a truncated body, or
        ``error_obj`` sent with status 200."""
        if fault.kind == 'error_event':
            return self._json(error_obj)
        self.wfile.write(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n'
                         b'Content-Length: 1000\r\n\r\n' + start)
        self._hang_up()


class TestServer:
    """A test server; see the module docstring. Start with ``with`` or :meth:`start`.

    Subclasses set ``handler`` and ``thread_name`` and override :meth:`error_body`.
    """
    __test__ = False  # not a pytest test class
    handler: ClassVar[type[Handler]] = Handler
    thread_name: ClassVar[str] = 'test-server'

    def __init__(self, *, api_key: str | None = None, host: str = '127.0.0.1', port: int = 0):
        self.api_key = api_key
        self._address = (host, port)
        self._faults: list[Fault] = []
        self._requests: list[Recorded] = []
        self._files: dict[str, tuple[str, bytes]] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------
    def start(self):
        if self._httpd is None:
            self._stopping.clear()
            self._httpd = _HTTPServer(self, self._address)
            self._thread = threading.Thread(target=self._httpd.serve_forever,
                                            kwargs={'poll_interval': 0.05},
                                            name=self.thread_name, daemon=True)
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

    def __enter__(self):
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

    # -- files served at /files/<name> ------------------------------------------------------
    def publish(self, name: str, data: bytes, content_type: str = 'image/png') -> str:
        """Serve ``data`` at ``GET /files/<name>`` (no auth); returns its URL."""
        with self._lock:
            self._files[name] = (content_type, data)
        return f'{self.url}/files/{name}'

    def published(self, name: str) -> tuple[str, bytes] | None:
        """``(content_type, data)`` served at ``/files/<name>``, or None."""
        with self._lock:
            return self._files.get(name)

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
    def error_body(self, status: int, route: str) -> bytes:
        """The body of an injected ``fail(status)`` without ``body`` (the provider's shape)."""
        return json.dumps({'error': {'message': f'injected HTTP {status}', 'code': status}}
                          ).encode()

    def inject(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def fail(self, status: int, *, times: int | None = 1, retry_after: float | str | None = None,
             body: bytes | str | dict | list | None = None, path: str | None = None,
             headers: dict | None = None) -> Fault:
        """Answer ``status`` (with ``Retry-After`` when given) to the next ``times`` requests;
        ``body`` (bytes, str, or an object sent as JSON) defaults to :meth:`error_body`."""
        headers = dict(headers or {})
        if retry_after is not None:
            headers['Retry-After'] = str(retry_after)
        if isinstance(body, str):
            body = body.encode()
        elif body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
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
        """Close the connection after ``after`` content events, without ending the stream."""
        return self.inject(Fault('cut', path, times, after=after))

    def error_event(self, after: int = 1, *, times: int | None = 1,
                    path: str | None = None) -> Fault:
        """Send the provider's error event after ``after`` content events."""
        return self.inject(Fault('error_event', path, times, after=after))

    def slow(self, delay: float = 0.0, *, chunk_delay: float = 0.0, times: int | None = 1,
             path: str | None = None) -> Fault:
        """Wait ``delay`` s before the status line and ``chunk_delay`` s between events."""
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


def serve_main(cls: type[TestServer], argv: list[str] | None, what: str) -> None:
    """``python -m tests.servers.<module> --port N``: serve until Ctrl-C."""
    import argparse
    parser = argparse.ArgumentParser(description=f'Serve the {what} test server.')
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=8000, help='0 picks a free port')
    parser.add_argument('--api-key', default=None)
    args = parser.parse_args(argv)
    with cls(host=args.host, port=args.port, api_key=args.api_key) as srv:
        print(f"serving {getattr(srv, 'base_url', srv.url)} (Ctrl-C to stop)", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
