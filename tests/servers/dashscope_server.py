"""A real HTTP server that speaks Alibaba Cloud Model Studio (DashScope), for tests (stdlib
only): its OpenAI-compatible mode (``<url>/compatible-mode/v1/``) and its native API
(``<url>/api/v1/``), as documented at https://help.aliyun.com/zh/model-studio/ and used by
the official ``dashscope`` SDK. It binds 127.0.0.1 on a free port and answers
deterministically.

Auth: ``Authorization: Bearer <api_key>`` when ``api_key`` is set, else 401 (native body
``{"code": "InvalidApiKey", ...}``; compatible mode: the OpenAI error shape with ``code
invalid_api_key``). ``/oss`` (policy-checked) and ``/files/…`` need no key.

Compatible mode (answers from ``openai_answers``):
- ``POST compatible-mode/v1/chat/completions``: the OpenAI echo answer. Thinking
  (``reasoning_content`` "Thinking about: <text>" first): ``qwq*`` models always (they only
  stream: a non-stream call is 400), ``qwen3*`` models when ``enable_thinking`` is true (only
  streamed: ``enable_thinking`` true on a non-stream call is 400, as on DashScope), and
  ``deepseek-r1*``.
- ``POST compatible-mode/v1/embeddings``: the OpenAI answer; ``text-embedding-v3``/``v4``
  take at most 10 inputs (else 400 ``InvalidParameter`` "batch size is invalid…").

Native:
- ``POST api/v1/services/rerank/text-rerank/text-rerank``: ``output.results`` best first,
  ``relevance_score = rerank_score(query, doc)``, ``document.text`` with
  ``parameters.return_documents``, ``parameters.top_n``; ``usage.total_tokens`` = words of
  query + documents. No ``input.query``/``input.documents``: 400 ``InvalidParameter``.
- ``POST api/v1/services/embeddings/multimodal-embedding/multimodal-embedding``: ``{"model",
  "input": {"contents": [{"text": …} | {"image": <http(s) URL or data:image/…;base64,…>}]},
  "parameters": {}}`` answers ``output.embeddings`` ``[{"index", "embedding", "type": "text" |
  "image"}]`` in input order, each ``multimodal_vector(item, embed_dim)`` (``embed_vector`` of
  the text; of the SHA-256 hex digest of a data URL's bytes; of an http(s) URL itself, not
  fetched), with ``usage.input_tokens`` (words of the texts) and ``usage.image_count``. No
  model, an empty ``contents``, an item that is neither text nor image, or an image that is
  neither an http(s) URL nor a base64 ``data:image/…`` URL: 400 ``InvalidParameter``.
- ``POST api/v1/services/aigc/text-generation/generation``: echoes the last user text of
  ``input.messages`` (or ``input.prompt``). ``parameters.result_format`` ``message`` answers
  ``output.choices[0].message``; absent or ``text`` answers ``output.text`` +
  ``output.finish_reason`` (DashScope's default). ``parameters.max_tokens`` caps the words
  (finish_reason ``length``). Streams with header ``X-DashScope-SSE: enable`` (or ``Accept:
  text/event-stream``): events ``id:<n>\\nevent:result\\n:HTTP_STATUS/200\\ndata:<json>\\n\\n``,
  one per word, ``finish_reason`` "null" (a string) until the last one; each event carries
  the whole text so far unless ``parameters.incremental_output`` is true (then only its word).
- ``POST api/v1/services/aigc/multimodal-generation/generation``: the same, with content as
  ``[{"text": …}]``. A user content item ``{"audio": url}`` is transcribed: "heard <n> bytes
  of <filename>" for an ``oss://<key>`` uploaded here (the request needs header
  ``X-DashScope-OssResourceResolve: enable``, else 400, as any ``oss://`` item), "heard
  <url>" for any other URL; without audio the text is echoed (+ " [images: K]").
- Temporary file upload (the SDK's ``OssUtils``): ``GET api/v1/uploads?action=getPolicy&
  model=<m>`` gives ``data`` with ``upload_host = <url>/oss``, ``upload_dir``, ``policy``,
  ``signature``, ``oss_access_key_id``…; multipart ``POST /oss`` (``OSSAccessKeyId``,
  ``Signature``, ``policy``, ``key`` under ``upload_dir``, ``x-oss-object-acl``,
  ``x-oss-forbid-overwrite``, ``success_action_status``, ``file``) stores the file under
  ``key`` (see ``uploads``); 200 with an empty body for ``success_action_status=200`` (204
  otherwise). A bad policy/signature/key id/key: 403 OSS XML ``AccessDenied``.
- ``POST api/v1/services/aigc/text2image/image-synthesis`` needs ``X-DashScope-Async:
  enable`` (else 403 ``AccessDenied``) and ``input.prompt``; answers a PENDING task. ``GET
  api/v1/tasks/<id>``: PENDING, RUNNING, then from poll ``task_polls`` (3) on SUCCEEDED with
  ``parameters.n`` PNG URLs (served at ``/files/…``) and ``usage.image_count`` — or FAILED
  (``DataInspectionFailed``) when ``task_fails`` was set when the task was created. Unknown
  ids: task_status UNKNOWN.

Faults: the shared API of ``_base``; ``fail(429)`` sends ``Throttling.RateQuota`` (native)
or ``limit_requests`` (compatible mode); mid-stream ``error_event`` sends a native
``event:error`` (``InternalError``) or the OpenAI ``{"error": …}`` data event.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import threading
import time
import uuid

from . import openai_answers as oa
from ._base import Fault, Handler, Recorded, TestServer, serve_main

__all__ = ['DashScopeServer', 'native_error', 'compatible_error', 'multimodal_vector', 'Fault',
           'Recorded']

_WORD = re.compile(r'\S+\s*')
_SECRET = b'dashscope-test-oss-secret'
_NATIVE_CODES = {400: 'InvalidParameter', 401: 'InvalidApiKey', 403: 'AccessDenied',
                 404: 'ModelNotFound', 429: 'Throttling.RateQuota', 500: 'InternalError',
                 503: 'ServiceUnavailable'}
_COMPAT_CODES = {400: ('invalid_request_error', 'invalid_parameter_error'),
                 401: ('invalid_request_error', 'invalid_api_key'),
                 404: ('invalid_request_error', 'model_not_found'),
                 429: ('limit_requests', 'limit_requests'),
                 500: ('internal_error', 'internal_error')}
_RATE = 'Requests rate limit exceeded, please try again later.'


def _rid() -> str:
    return str(uuid.uuid4())


def native_error(code: str, message: str) -> dict:
    """A native DashScope error body."""
    return {'code': code, 'message': message, 'request_id': _rid()}


def compatible_error(message: str, type_: str, code: str | None = None) -> dict:
    """A compatible-mode (OpenAI-shaped) DashScope error body."""
    return {'error': {'message': message, 'type': type_, 'param': None, 'code': code or type_},
            'request_id': _rid()}


def _oss_error(code: str, message: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error>\n  <Code>{code}</Code>\n'
            f'  <Message>{message}</Message>\n  <RequestId>{uuid.uuid4().hex}</RequestId>\n'
            f'  <HostId>127.0.0.1</HostId>\n</Error>\n').encode()


def _image_bytes(url: str) -> bytes | None:
    """The bytes of a ``data:image/…;base64,…`` URL, or None when it is not one."""
    head, sep, data = url.partition(',')
    if not (sep and head.startswith('data:image/') and head.endswith(';base64')):
        return None
    try:
        return base64.b64decode(data, validate=True)
    except ValueError:
        return None


def multimodal_vector(item: dict, dim: int = 8) -> list[float]:
    """The server's multimodal embedding of one ``{"text"}`` or ``{"image"}`` content item."""
    if 'text' in item:
        return oa.embed_vector(str(item['text']), dim)
    url = str(item['image'])
    data = _image_bytes(url)
    return oa.embed_vector(hashlib.sha256(data).hexdigest() if data is not None else url, dim)


def _content_text(content) -> str:
    if isinstance(content, list):
        return ' '.join(str(p['text']) for p in content if isinstance(p, dict) and 'text' in p)
    return content if isinstance(content, str) else ''


class _Handler(Handler):
    def _is_public(self, route: str) -> bool:
        return route.startswith('/files/') or route == '/oss'

    def _auth_error(self, headers: dict):
        key = self.server.owner.api_key
        if key and headers.get('authorization') != f'Bearer {key}':
            if self.record.route.startswith('/compatible-mode/'):
                return 401, compatible_error('Incorrect API key provided. ',
                                             'invalid_request_error', 'invalid_api_key')
            return 401, native_error('InvalidApiKey', 'Invalid API-key provided.')
        return None

    def _bad(self, message: str, code: str = 'InvalidParameter', status: int = 400) -> None:
        self._json(native_error(code, message), status)

    def _route(self, owner: DashScopeServer, fault: Fault | None, req: dict, headers: dict):
        method, path = self.command, self.record.route
        if path.startswith('/compatible-mode/v1/'):
            return self._compatible(owner, fault, req, path[len('/compatible-mode/v1/'):])
        if method == 'POST' and path == '/oss':
            return self._oss(owner)
        if method == 'GET' and path == '/api/v1/uploads':
            return self._policy(owner)
        if method == 'GET' and path.startswith('/api/v1/tasks/'):
            return self._task(owner, path.rsplit('/', 1)[1])
        if method == 'POST':
            service = path[len('/api/v1/services/'):]
            if service == 'rerank/text-rerank/text-rerank':
                return self._rerank(req)
            if service == 'embeddings/multimodal-embedding/multimodal-embedding':
                return self._multimodal_embedding(owner, req)
            if service == 'aigc/text-generation/generation':
                return self._generation(fault, req, headers, multimodal=False)
            if service == 'aigc/multimodal-generation/generation':
                return self._generation(fault, req, headers, multimodal=True)
            if service == 'aigc/text2image/image-synthesis':
                return self._synthesis(owner, req, headers)
        self._bad(f'Invalid URL provided in your request: {method} {path}', 'InvalidURL', 404)

    # -- compatible mode --------------------------------------------------------------------
    def _compatible(self, owner: DashScopeServer, fault: Fault | None, req: dict, route: str):
        def bad(message: str, type_: str = 'invalid_request_error',
                code: str = 'invalid_parameter_error'):
            return self._json(compatible_error(message, type_, code), 400)
        model = str(req.get('model') or owner.model)
        if self.command == 'POST' and route == 'embeddings':
            texts = req.get('input')
            n = 1 if isinstance(texts, str) else len(texts or [])
            if model in ('text-embedding-v3', 'text-embedding-v4') and n > 10:
                return bad('batch size is invalid, it should not be larger than 10.: '
                           'input.contents', 'InvalidParameter', 'InvalidParameter')
            return self._json(oa.embeddings(req, model, owner.embed_dim))
        if self.command != 'POST' or route != 'chat/completions':
            return self._json(compatible_error(f'Unsupported route {route}',
                                               'invalid_request_error', 'not_found'), 404)
        stream = bool(req.get('stream'))
        think = False
        if model.startswith('qwq'):
            if not stream:
                return bad('This model only support stream mode, please enable the stream '
                           'parameter to get the model output.')
            think = True
        elif model.startswith('qwen3') and req.get('enable_thinking'):
            if not stream:
                return bad('parameter.enable_thinking must be set to false for non-streaming '
                           'calls')
            think = True
        elif model.startswith('deepseek-r1'):
            think = True
        answer = oa.chat(req, model, think=think)
        if not isinstance(answer, list):
            if fault and fault.kind in ('cut', 'error_event'):
                return self._fault_body(fault, compatible_error('injected error with status 200',
                                                                'internal_error'))
            return self._json(answer)
        events = [(f'data: {json.dumps(c)}\n\n'.encode(), oa.carries_text(c)) for c in answer]
        error = compatible_error('injected mid-stream error', 'internal_error')
        self._stream_events(events, fault, f'data: {json.dumps(error)}\n\n'.encode(),
                            tail=b'data: [DONE]\n\n')

    # -- native -----------------------------------------------------------------------------
    def _rerank(self, req: dict) -> None:
        inp = req.get('input') if isinstance(req.get('input'), dict) else {}
        params = req.get('parameters') or {}
        query, docs = inp.get('query'), inp.get('documents')
        if not req.get('model'):
            return self._bad('Required parameter(model) missing or invalid.')
        if not isinstance(query, str) or not query:
            return self._bad('Required parameter(input.query) missing or invalid.')
        if not isinstance(docs, list) or not docs:
            return self._bad('Required parameter(input.documents) missing or invalid.')
        docs = [d.get('text', '') if isinstance(d, dict) else str(d) for d in docs]
        scores = [oa.rerank_score(query, d) for d in docs]
        order = sorted(range(len(docs)), key=lambda i: (-scores[i], i))[:params.get('top_n')]
        results = []
        for i in order:
            item = {'index': i, 'relevance_score': scores[i]}
            if params.get('return_documents'):
                item['document'] = {'text': docs[i]}
            results.append(item)
        tokens = len(query.split()) + sum(len(d.split()) for d in docs)
        self._json({'output': {'results': results}, 'usage': {'total_tokens': tokens},
                    'request_id': _rid()})

    def _multimodal_embedding(self, owner: DashScopeServer, req: dict) -> None:
        inp = req.get('input') if isinstance(req.get('input'), dict) else {}
        contents = inp.get('contents')
        if not req.get('model'):
            return self._bad('Required parameter(model) missing or invalid.')
        if not isinstance(contents, list) or not contents:
            return self._bad('Required parameter(input.contents) missing or invalid.')
        embeddings, words, images = [], 0, 0
        for i, item in enumerate(contents):
            if isinstance(item, dict) and isinstance(item.get('text'), str):
                kind = 'text'
                words += len(item['text'].split())
            elif isinstance(item, dict) and isinstance(item.get('image'), str) and (
                    item['image'].startswith(('http://', 'https://'))
                    or _image_bytes(item['image']) is not None):
                kind = 'image'
                images += 1
            else:
                return self._bad(f'input.contents[{i}] must be {{"text": str}} or {{"image": '
                                 f'http(s) URL or data:image/...;base64 URL}}: {item!r:.100}')
            embeddings.append({'index': i, 'type': kind,
                               'embedding': multimodal_vector(item, owner.embed_dim)})
        self._json({'output': {'embeddings': embeddings},
                    'usage': {'input_tokens': words, 'image_count': images},
                    'request_id': _rid()})

    def _multimodal_text(self, messages: list, headers: dict) -> str | tuple[str]:
        """The answer text, or ``(error message,)``."""
        owner = self.server.owner
        resolve = headers.get('x-dashscope-ossresourceresolve', '').lower() == 'enable'
        for m in messages:
            for item in m.get('content') if isinstance(m.get('content'), list) else []:
                for value in item.values() if isinstance(item, dict) else []:
                    if isinstance(value, str) and value.startswith('oss://') and not resolve:
                        return ('The provided URL does not appear to be valid. Ensure it is '
                                'correctly formatted.',)
        last = next((m for m in reversed(messages) if m.get('role') == 'user'), {})
        content = last.get('content')
        items = content if isinstance(content, list) else [{'text': _content_text(content)}]
        heard, images = [], 0
        for item in items:
            if not isinstance(item, dict):
                continue
            images += 'image' in item
            url = item.get('audio')
            if not isinstance(url, str):
                continue
            if url.startswith('oss://'):
                found = owner.uploads.get(url[len('oss://'):])
                if found is None:
                    return (f'Failed to download multimodal content: {url}',)
                heard.append(oa.transcript(found[0], found[2]))
            else:
                heard.append(f'heard {url}')
        if heard:
            return ' '.join(heard)
        text = _content_text(items)
        return text + (f' [images: {images}]' if images else '')

    def _generation(self, fault: Fault | None, req: dict, headers: dict,
                    multimodal: bool) -> None:
        inp = req.get('input') if isinstance(req.get('input'), dict) else {}
        params = req.get('parameters') or {}
        messages = inp.get('messages')
        if not req.get('model'):
            return self._bad('Required parameter(model) missing or invalid.')
        if not messages and not inp.get('prompt'):
            return self._bad('Either "prompt" or "messages" must exist and cannot both be none')
        messages = [m for m in messages or [] if isinstance(m, dict)]
        if multimodal:
            text = self._multimodal_text(messages, headers)
            if isinstance(text, tuple):
                return self._bad(text[0])
        else:
            text = next((_content_text(m.get('content')) for m in reversed(messages)
                         if m.get('role') == 'user'), str(inp.get('prompt') or ''))
        n_in = sum(len(_content_text(m.get('content')).split()) for m in messages)
        n_in += len(str(inp.get('prompt') or '').split())
        words = _WORD.findall(text)
        finish = 'stop'
        if isinstance(params.get('max_tokens'), int) and len(words) > params['max_tokens']:
            words, finish = words[:params['max_tokens']], 'length'
        fmt = 'message' if multimodal else params.get('result_format', 'text')
        rid = _rid()

        def answer(content: str, reason: str, n_out: int) -> dict:
            if fmt == 'message':
                body = [{'text': content}] if multimodal else content
                output = {'choices': [{'finish_reason': reason, 'message': {
                    'role': 'assistant', 'content': body}}]}
            else:
                output = {'text': content, 'finish_reason': reason}
            return {'output': output, 'usage': {'input_tokens': n_in, 'output_tokens': n_out,
                                                'total_tokens': n_in + n_out},
                    'request_id': rid}
        stream = (headers.get('x-dashscope-sse', '').lower() == 'enable'
                  or 'text/event-stream' in headers.get('accept', ''))
        if not stream:
            if fault and fault.kind in ('cut', 'error_event'):
                return self._fault_body(fault, native_error('InternalError', 'injected error'),
                                        b'{"output": {"choi')
            return self._json(answer(''.join(words), finish, len(words)))
        incremental = bool(params.get('incremental_output', False))
        pieces = words or ['']
        events = []
        for i, word in enumerate(pieces):
            last = i == len(pieces) - 1
            data = answer(word if incremental else ''.join(pieces[:i + 1]),
                          finish if last else 'null', i + 1 if words else 0)
            events.append((f'id:{i + 1}\nevent:result\n:HTTP_STATUS/200\ndata:'
                           f'{json.dumps(data)}\n\n'.encode(), bool(word)))
        error = native_error('InternalError', 'injected mid-stream error')
        self._stream_events(events, fault, f'id:{len(pieces) + 1}\nevent:error\n'
                            f':HTTP_STATUS/500\ndata:{json.dumps(error)}\n\n'.encode(),
                            headers={'X-DashScope-Request-Id': rid})

    # -- temporary file upload --------------------------------------------------------------
    def _policy(self, owner: DashScopeServer) -> None:
        query = self.record.query
        if query.get('action') != 'getPolicy' or not query.get('model'):
            return self._bad('Required parameter(action=getPolicy, model) missing or invalid.')
        digest = hashlib.md5(str(next(owner._ids)).encode()).hexdigest()
        upload_dir = f'dashscope-instant/{digest}/{time.strftime("%Y-%m-%d")}'
        doc = {'expiration': '2099-01-01T00:00:00.000Z',
               'conditions': [['content-length-range', 0, 100 * 1024 * 1024],
                              ['starts-with', '$key', upload_dir]]}
        policy = base64.b64encode(json.dumps(doc).encode()).decode()
        signature = base64.b64encode(hmac.new(_SECRET, policy.encode(), 'sha1').digest()
                                     ).decode()
        with owner._state:
            owner._policies[policy] = upload_dir
        self._json({'request_id': _rid(), 'data': {
            'policy': policy, 'signature': signature, 'upload_dir': upload_dir,
            'upload_host': f'{owner.url}/oss', 'expire_in_seconds': 300,
            'max_file_size_mb': 100, 'capacity_limit_mb': 999999,
            'oss_access_key_id': owner.oss_access_key_id, 'x_oss_object_acl': 'private',
            'x_oss_forbid_overwrite': 'true'}})

    def _oss(self, owner: DashScopeServer) -> None:
        form, files = self.record.form, self.record.files

        def field(name: str) -> str | None:  # requests sends every field as a file part
            if name in form:
                return form[name]
            return files[name][2].decode('utf-8', 'replace') if name in files else None

        def deny(code: str, message: str, status: int = 403) -> None:
            self._write(status, _oss_error(code, message), 'application/xml')
        policy, key = field('policy'), field('key')
        with owner._state:
            upload_dir = owner._policies.get(policy or '')
        expected = base64.b64encode(hmac.new(_SECRET, (policy or '').encode(), 'sha1').digest()
                                    ).decode()
        if upload_dir is None or field('Signature') != expected:
            return deny('AccessDenied', 'The request signature we calculated does not match '
                        'the signature you provided.')
        if field('OSSAccessKeyId') != owner.oss_access_key_id:
            return deny('InvalidAccessKeyId', 'The OSS Access Key Id you provided does not '
                        'exist in our records.')
        if not key or not key.startswith(upload_dir + '/'):
            return deny('AccessDenied', 'Invalid according to Policy: Policy Condition failed: '
                        f'["starts-with", "$key", "{upload_dir}"]')
        if 'file' not in files:
            return deny('InvalidArgument', 'The body of your POST request is not well-formed '
                        'multipart/form-data.', 400)
        with owner._state:
            if key in owner.uploads and field('x-oss-forbid-overwrite') == 'true':
                return deny('FileAlreadyExists', 'The object you specified already exists and '
                            'can not be overwritten.', 409)
            owner.uploads[key] = files['file']
        status = 200 if field('success_action_status') == '200' else 204
        self._write(status, b'', 'text/plain', {'x-oss-request-id': uuid.uuid4().hex})

    # -- image synthesis (async task) -------------------------------------------------------
    def _synthesis(self, owner: DashScopeServer, req: dict, headers: dict) -> None:
        if headers.get('x-dashscope-async', '').lower() != 'enable':
            return self._bad('current user api does not support synchronous calls',
                             'AccessDenied', 403)
        prompt = (req.get('input') or {}).get('prompt') if isinstance(req.get('input'),
                                                                         dict) else None
        if not req.get('model'):
            return self._bad('Required parameter(model) missing or invalid.')
        if not isinstance(prompt, str) or not prompt:
            return self._bad('Required parameter(input.prompt) missing or invalid.')
        task_id = f'{next(owner._ids):08x}-0000-4000-8000-000000000000'
        n = int((req.get('parameters') or {}).get('n') or 1)
        with owner._state:
            owner.tasks[task_id] = {'n': n, 'polls': 0, 'fails': owner.task_fails,
                                    'prompt': prompt}
        self._json({'output': {'task_id': task_id, 'task_status': 'PENDING'},
                    'request_id': _rid()})

    def _task(self, owner: DashScopeServer, task_id: str) -> None:
        with owner._state:
            task = owner.tasks.get(task_id)
            if task is not None:
                task['polls'] += 1
        if task is None:
            return self._json({'output': {'task_id': task_id, 'task_status': 'UNKNOWN'},
                               'request_id': _rid()})
        output: dict = {'task_id': task_id}
        if task['polls'] < owner.task_polls:
            output['task_status'] = 'PENDING' if task['polls'] == 1 else 'RUNNING'
            return self._json({'output': output, 'request_id': _rid()})
        if task['fails']:
            output.update(task_status='FAILED', code='DataInspectionFailed',
                          message='Input data may contain inappropriate content.')
            return self._json({'output': output, 'request_id': _rid()})
        png = oa.tiny_png()
        results = [{'url': owner.publish(f'{task_id}-{i}.png', png)} for i in range(task['n'])]
        output.update(task_status='SUCCEEDED', results=results, task_metrics={
            'TOTAL': task['n'], 'SUCCEEDED': task['n'], 'FAILED': 0})
        self._json({'output': output, 'usage': {'image_count': task['n']},
                    'request_id': _rid()})


class DashScopeServer(TestServer):
    """The server; see the module docstring. Start with ``with`` or :meth:`start`."""
    handler = _Handler
    thread_name = 'dashscope-test-server'

    def __init__(self, *, api_key: str | None = None, model: str = 'qwen-echo',
                 host: str = '127.0.0.1', port: int = 0, embed_dim: int = 8,
                 task_fails: bool = False, task_polls: int = 3,
                 oss_access_key_id: str = 'LTAI5tTestAccessKeyId'):
        super().__init__(api_key=api_key, host=host, port=port)
        self.model = model            # the default model of compatible-mode answers
        self.embed_dim = embed_dim
        self.task_fails = task_fails  # tasks created while True end FAILED
        self.task_polls = task_polls  # the poll from which a task is finished
        self.oss_access_key_id = oss_access_key_id
        self.uploads: dict[str, tuple[str, str, bytes]] = {}  # key -> (filename, type, bytes)
        self.tasks: dict[str, dict] = {}
        self._policies: dict[str, str] = {}  # policy -> upload_dir
        self._state = threading.Lock()
        self._ids = itertools.count(1)

    @property
    def compatible_url(self) -> str:
        """The OpenAI-compatible base URL, ``<url>/compatible-mode/v1/``."""
        return self.url + '/compatible-mode/v1/'

    @property
    def native_url(self) -> str:
        """The native API base URL, ``<url>/api/v1/``."""
        return self.url + '/api/v1/'

    base_url = compatible_url

    def error_body(self, status: int, route: str) -> bytes:
        if route == '/oss':
            return _oss_error('InternalError', f'injected HTTP {status}')
        if route.startswith('/compatible-mode/'):
            type_, code = _COMPAT_CODES.get(status, ('internal_error', 'internal_error'))
            message = _RATE if status == 429 else f'injected HTTP {status}'
            return json.dumps(compatible_error(message, type_, code)).encode()
        message = _RATE if status == 429 else f'injected HTTP {status}'
        return json.dumps(native_error(_NATIVE_CODES.get(status, 'InternalError'), message)
                          ).encode()


def main(argv: list[str] | None = None) -> None:
    serve_main(DashScopeServer, argv, 'DashScope')


if __name__ == '__main__':
    main()
