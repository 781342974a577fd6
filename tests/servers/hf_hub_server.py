"""A local Hugging Face Hub for tests (stdlib only): the file API the real client uses.

It serves model folders from disk as hub repos, on 127.0.0.1 (point ``HF_ENDPOINT`` at
``srv.url``), over HTTP/1.1:

- ``GET /api/models/{repo}[/revision/{rev}]``: model info, ``sha`` (the commit) and
  ``siblings`` with ``size``, ``blobId`` (git blob SHA-1) and, for LFS files, ``lfs.sha256``;
- ``GET /api/models/{repo}/tree/{rev}``: the recursive file listing (``snapshot_download``);
- ``HEAD``/``GET /{repo}/resolve/{rev}/{file}``: ``ETag``, ``X-Repo-Commit``,
  ``Content-Length``, ``X-Linked-Etag``/``X-Linked-Size`` for LFS files, and ``Range``
  (``bytes=START-`` or ``bytes=START-END``: 206 + ``Content-Range``).
Files of 10 kB and more, and ``*.safetensors``, are LFS (ETag = SHA-256), as on the hub.

A repo may also *list* files it does not hold (``listed={'org/repo': {name: size}}``): they
appear in the model info and the tree with that size and a made-up LFS SHA-256, as the weight
shards of a real 15 GB model would, and any transfer of one answers 500 'listed only'. A test
sizes such a repo from its file list and proves that no weight byte was asked for.

Faults, each for the next ``times`` matching requests: :meth:`cut` sends the headers of the
whole file but closes the connection after ``after`` bytes; :meth:`corrupt` flips one byte;
:meth:`status` answers an error status (with the hub's ``X-Error-Code``); :meth:`slow`
throttles transfers; :meth:`require_token` answers 401 GatedRepo without the right Bearer
token. Every request is recorded (method, path, Range header, body bytes sent).

    with HFHubServer({'test/minilm': folder}) as srv:
        ...  # HF_ENDPOINT=srv.url
        assert srv.count('GET', 'model.safetensors') == 1
"""
from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

__all__ = ['HFHubServer', 'Request']

_ERROR_CODES = {401: 'GatedRepo', 403: 'GatedRepo', 404: 'RepoNotFound'}


@dataclass
class Request:
    method: str
    path: str
    range: str | None
    sent: int = 0          # body bytes sent


@dataclass
class _Fault:
    kind: str
    match: str
    times: int | None
    status: int = 0
    after: int = 0


@dataclass(frozen=True)
class _File:
    path: Path | None    # None: listed only (see the module docstring)
    size: int
    git_sha1: str
    digest: str          # sha256 of the content
    lfs: bool

    @property
    def sha256(self) -> str | None:   # what the HF API shows: LFS files only
        return self.digest if self.lfs else None

    @property
    def etag(self) -> str:
        return self.sha256 or self.git_sha1


def _describe(path: Path) -> _File:
    data = path.read_bytes()
    lfs = len(data) >= 10_000 or path.suffix == '.safetensors'
    git = hashlib.sha1(b'blob %d\0' % len(data) + data).hexdigest()
    return _File(path, len(data), git, hashlib.sha256(data).hexdigest(), lfs)


def _listed(repo: str, name: str, size: int) -> _File:
    fake = f'listed only: {repo}/{name}'.encode()
    return _File(None, size, hashlib.sha1(fake).hexdigest(), hashlib.sha256(fake).hexdigest(),
                 True)


class _Repo:
    def __init__(self, name: str, folder: Path | None, listed: dict[str, int] | None = None):
        self.name = name
        self.commit = hashlib.sha1(name.encode()).hexdigest()
        self.files = {p.relative_to(folder).as_posix(): _describe(p)
                      for p in sorted(folder.rglob('*')) if p.is_file()} if folder else {}
        self.files.update({n: _listed(name, n, size) for n, size in (listed or {}).items()})

    def info(self) -> dict:
        siblings = [{'rfilename': n, 'size': f.size, 'blobId': f.git_sha1,
                     **({'lfs': {'sha256': f.sha256, 'size': f.size, 'pointerSize': 134}}
                        if f.sha256 else {})} for n, f in self.files.items()]
        return {'_id': self.commit[:24], 'id': self.name, 'modelId': self.name,
                'sha': self.commit, 'private': False, 'gated': False, 'disabled': False,
                'downloads': 0, 'likes': 0, 'tags': [], 'siblings': siblings,
                'lastModified': '2024-01-01T00:00:00.000Z'}

    def ms_files(self) -> dict:
        files = [{'Path': n, 'Name': Path(n).name, 'Type': 'blob', 'Size': f.size,
                  'Sha256': f.digest, 'Revision': self.commit} for n, f in self.files.items()]
        return {'Code': 200, 'Success': True, 'Data': {'Files': files}}

    def tree(self) -> list:
        dirs = sorted({str(Path(n).parent) for n in self.files} - {'.'})
        out = [{'type': 'directory', 'path': d, 'oid': '0' * 40, 'size': 0} for d in dirs]
        return out + [{'type': 'file', 'path': n, 'size': f.size, 'oid': f.git_sha1,
                       **({'lfs': {'oid': f.sha256, 'size': f.size, 'pointerSize': 134}}
                          if f.sha256 else {})} for n, f in self.files.items()]


class HFHubServer:
    """See the module docstring."""

    def __init__(self, repos: dict[str, Path], listed: dict[str, dict[str, int]] | None = None):
        listed = listed or {}
        self.repos = {name: _Repo(name, Path(folder), listed.get(name))
                      for name, folder in repos.items()}
        self.repos.update({name: _Repo(name, None, files) for name, files in listed.items()
                           if name not in self.repos})
        self.requests: list[Request] = []
        self.tokens: dict[str, str] = {}
        self.seconds_per_mb = 0.0
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(('127.0.0.1', 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.owner = self
        self.url = f'http://127.0.0.1:{self._httpd.server_address[1]}'
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> HFHubServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    # -- faults and counters ------------------------------------------------------------------
    def _add(self, fault: _Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def cut(self, file: str, after: int, times: int | None = 1) -> None:
        self._add(_Fault('cut', file, times, after=after))

    def corrupt(self, file: str, times: int | None = 1) -> None:
        self._add(_Fault('corrupt', file, times))

    def status(self, code: int, match: str = '', times: int | None = None) -> None:
        self._add(_Fault('status', match, times, status=code))

    def slow(self, seconds_per_mb: float) -> None:
        self.seconds_per_mb = seconds_per_mb

    def require_token(self, repo: str, token: str) -> None:
        self.tokens[repo] = token

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._faults.clear()

    def count(self, method: str | None = None, file: str = '') -> int:
        return len(self.matching(method, file))

    def matching(self, method: str | None = None, file: str = '') -> list[Request]:
        return [r for r in list(self.requests) if (method in (None, r.method))
                and r.path.endswith(file)]

    def _take(self, kind: str, path: str) -> _Fault | None:
        with self._lock:
            for f in self._faults:
                if f.kind == kind and f.match in path and f.times != 0:
                    if f.times is not None:
                        f.times -= 1
                    return f
        return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server: ThreadingHTTPServer

    def log_message(self, format, *args) -> None:
        pass

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def _send(self, status: int, body: bytes = b'', headers: dict | None = None) -> None:
        self.send_response(status)
        for k, v in {'Content-Length': str(len(body)), **(headers or {})}.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(body)

    def _json(self, obj, headers: dict | None = None) -> None:
        self._send(200, json.dumps(obj).encode(), {'Content-Type': 'application/json',
                                                   **(headers or {})})

    def _error(self, status: int, text: str) -> None:
        self._send(status, json.dumps({'error': text}).encode(),
                   {'Content-Type': 'application/json',
                    'X-Error-Code': _ERROR_CODES.get(status, ''), 'X-Error-Message': text})

    def _handle(self) -> None:
        owner: HFHubServer = self.server.owner
        path = unquote(urlsplit(self.path).path)
        req = Request(self.command, path, self.headers.get('Range'))
        owner.requests.append(req)
        fault = owner._take('status', path)
        if fault:
            return self._error(fault.status, f'scripted {fault.status}')
        if path.startswith('/api/v1/models/'):
            return self._modelscope(owner, path)
        m = re.fullmatch(r'/api/models/(.+?)(?:/(revision|tree)/([^/]+))?', path) or \
            re.fullmatch(r'/(.+?)/resolve/([^/]+)/(.+)', path)
        repo = owner.repos.get(m.group(1)) if m else None
        if repo is None:
            return self._error(404, f'Repository {m.group(1) if m else path} not found')
        token = owner.tokens.get(repo.name)
        if token and self.headers.get('Authorization') != f'Bearer {token}':
            return self._error(401, f'Access to model {repo.name} is restricted.')
        if path.startswith('/api/models/'):
            return self._json(repo.tree() if m.group(2) == 'tree' else repo.info())
        file = repo.files.get(m.group(3))
        if file is None:
            return self._send(404, b'', {'X-Error-Code': 'EntryNotFound',
                                         'X-Repo-Commit': repo.commit})
        self._serve_file(owner, repo, m.group(3), file, req)

    def _modelscope(self, owner: HFHubServer, path: str) -> None:
        """ModelScope's API: ``/api/v1/models/{repo}/repo/files`` and ``/repo?FilePath=``."""
        m = re.fullmatch(r'/api/v1/models/(.+?)/repo(/files)?', path)
        repo = owner.repos.get(m.group(1)) if m else None
        if repo is None:
            body = json.dumps({'Code': 404, 'Success': False, 'Message': 'model not found'})
            return self._send(404, body.encode(), {'Content-Type': 'application/json'})
        if m.group(2):
            return self._json(repo.ms_files())
        query = dict(p.split('=', 1) for p in urlsplit(self.path).query.split('&') if '=' in p)
        name = unquote(query.get('FilePath', ''))
        if name not in repo.files:
            return self._send(404, b'{"Code": 404, "Message": "file not found"}')
        self._serve_file(owner, repo, name, repo.files[name], owner.requests[-1])

    def _serve_file(self, owner: HFHubServer, repo: _Repo, name: str, file: _File,
                    req: Request) -> None:
        if file.path is None:
            return self._error(500, f'{name} is listed only: this test hub does not hold its '
                                    'bytes')
        start, end, partial = 0, file.size - 1, False
        if req.range:
            m = re.match(r'bytes=(\d+)-(\d*)', req.range)
            start, partial = int(m.group(1)), bool(int(m.group(1)) or m.group(2))
            if m.group(2):
                end = min(int(m.group(2)), file.size - 1)
        headers = {'ETag': f'"{file.etag}"', 'X-Repo-Commit': repo.commit,
                   'Accept-Ranges': 'bytes', 'Content-Length': str(end + 1 - start)}
        if file.sha256:
            headers.update({'X-Linked-Etag': f'"{file.sha256}"', 'X-Linked-Size': str(file.size)})
        if partial:
            headers['Content-Range'] = f'bytes {start}-{end}/{file.size}'
        self.send_response(206 if partial else 200)
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command == 'HEAD':
            return
        data = bytearray(file.path.read_bytes()[start:end + 1])
        if owner._take('corrupt', name) and data:
            data[len(data) // 2] ^= 0xFF
        cut = owner._take('cut', name)
        limit = min(cut.after, len(data)) if cut else len(data)
        for i in range(0, limit, 1 << 16):
            chunk = bytes(data[i:min(i + (1 << 16), limit)])
            self.wfile.write(chunk)
            req.sent += len(chunk)
            if owner.seconds_per_mb:
                time.sleep(owner.seconds_per_mb * len(chunk) / 1e6)
        if cut:
            self.close_connection = True
            self.wfile.flush()
            self.connection.shutdown(2)


if __name__ == '__main__':   # python -m tests.servers.hf_hub_server REPO FOLDER
    import sys
    with HFHubServer({sys.argv[1]: Path(sys.argv[2])}) as srv:
        print(srv.url, flush=True)
        threading.Event().wait()
