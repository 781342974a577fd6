"""What the sync and the async client have in common: settings, headers, URLs, and turning
each public method's arguments into a :class:`Call`.

Construction only resolves settings and checks arguments (DESIGN rule 2: no I/O); the
subclasses add the one pooled httpx client each of them keeps for its whole life.
"""
from __future__ import annotations

from functools import lru_cache, partial
from typing import Any, Callable, Mapping

import httpx

from .._config import config
from .._redact import mask, redact
from .._version import __version__
from ..errors import InputError
from ._call import Call, raw_body
from ._headers import check_api_key, check_headers, is_secret_header
from ._multipart import encode_multipart
from ._parse import (
    chat_delta,
    completion_delta,
    parse_chat,
    parse_classify,
    parse_completion,
    parse_embeddings,
    parse_models,
    parse_rerank,
)
from ._payload import (
    chat_payload,
    classify_payload,
    completion_payload,
    embed_payload,
    encode,
    rerank_payload,
)
from ._urls import is_loopback, normalize_base_url

__all__ = ['ClientBase']

_METHODS = frozenset({'GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'})


@lru_cache(maxsize=1)
def _ssl_context() -> Any:
    """One TLS context for every client of the process: loading the CA bundle takes ~45 ms,
    too much to pay for each client (a module tree can hold dozens)."""
    create = getattr(httpx, 'create_ssl_context', None)  # public since httpx 0.28
    return create() if create is not None else True


def _identity(data: Any) -> Any:
    return data


def _positive(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise InputError(f'{name} must be a number of seconds > 0, not {value!r}: pass {name}= '
                         f'or set LAZYLLM_{name.upper()} to a positive number')
    return float(value)


class ClientBase:
    """Settings and request building shared by :class:`Client` and :class:`AsyncClient`."""

    _http: httpx.Client | httpx.AsyncClient   # set by the subclass, from _http_options()

    def __init__(self, base_url: str, api_key: str | None = None, *,
                 timeout: float | None = None, connect_timeout: float | None = None,
                 max_retries: int | None = None, headers: Mapping[str, str] | None = None,
                 auth_fix: str | None = None):
        self.base_url = normalize_base_url(base_url)
        self._auth_fix = auth_fix
        root, sep, query = self.base_url.partition('?')
        self._root, self._query = root, sep + query
        self._origin = str(self._parse_url(root, what='base URL').copy_with(path='/'))[:-1]
        self.timeout = _positive('timeout', config.resolve('timeout', timeout))
        self.connect_timeout = _positive('connect_timeout',
                                         config.resolve('connect_timeout', connect_timeout))
        retries = config.resolve('max_retries', max_retries)
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise InputError(f'max_retries must be an int >= 0, not {retries!r}: pass '
                             f'max_retries= or set LAZYLLM_MAX_RETRIES (0 disables retries)')
        self.max_retries = retries
        self._api_key = check_api_key(api_key, auth_fix)
        self._headers = self._build_headers(headers)
        secrets = [self._api_key] + [v for k, v in self._headers.items() if is_secret_header(k)]
        self._secrets = tuple(s for s in secrets if s)
        self._urls: dict[str, httpx.URL] = {}
        self._open()

    def _open(self) -> None:
        """Create the pooled httpx client (no I/O: connections open at the first call)."""
        raise NotImplementedError

    def _build_headers(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        headers = {'User-Agent': f'lazyllm/{__version__}', 'Content-Type': 'application/json'}
        if self._api_key:
            headers['Authorization'] = f'Bearer {self._api_key}'
        headers.update(check_headers(extra, self._auth_fix))
        return headers

    def _http_options(self) -> dict[str, Any]:
        """Keyword arguments of the pooled httpx client (the proxy variables are ignored for
        an endpoint on this machine: a proxy cannot reach our 127.0.0.1)."""
        return dict(headers=self._headers, trust_env=not is_loopback(self.base_url),
                    verify=_ssl_context(),
                    timeout=httpx.Timeout(self.timeout, connect=self.connect_timeout))

    # -- URLs ---------------------------------------------------------------------------------
    def _url(self, path: str) -> httpx.URL:
        """The URL of ``path``: relative to the base (``models``), to the server root
        (``/health``) or absolute. Parsed once per path, then cached."""
        url = self._urls.get(path)
        if url is None:
            if '://' in path:
                text = path
            elif path.startswith('/'):
                text = self._origin + path
            else:
                text = self._root + path + ('' if '?' in path else self._query)
            url = self._parse_url(text, 'pass a path such as "models" or "/health"')
            if len(self._urls) < 64:
                self._urls[path] = url
        return url

    def _parse_url(self, text: str, fix: str = 'pass a URL such as '
                   '"http://127.0.0.1:8000/v1/"', what: str = 'URL') -> httpx.URL:
        """``httpx.URL(text)``, its refusals (a bad IDNA host, a control character, a lone
        surrogate that UTF-8 cannot encode) as InputError."""
        try:
            return httpx.URL(text)
        except (httpx.InvalidURL, UnicodeError) as e:
            shown = redact(text, getattr(self, '_secrets', ()))
            raise InputError(f'{what} {shown!r} is not valid ({e}): {fix}') from e

    # -- calls --------------------------------------------------------------------------------
    def _call(self, method: str, path: str, payload: Any, parse: Callable[[Any], Any], *,
              body: bytes | None = None, headers: dict | None = None) -> Call:
        if self._http.is_closed:
            raise InputError(f'this {type(self).__name__} is closed: create a new one (or keep '
                             f'it open until its last call)')
        if payload is not None:
            body = encode(payload)
        return Call(method, self._url(path), body, parse, timeout=self.timeout,
                    connect_timeout=self.connect_timeout, max_retries=self.max_retries,
                    secrets=self._secrets, headers=headers, auth_fix=self._auth_fix)

    def _chat_call(self, messages: Any, model: str | None, params: dict,
                   stream: bool = False) -> Call:
        return self._call('POST', 'chat/completions', chat_payload(messages, model, params, stream),
                          chat_delta if stream else parse_chat)

    def _complete_call(self, prompt: Any, model: str | None, params: dict,
                       stream: bool = False) -> Call:
        return self._call('POST', 'completions', completion_payload(prompt, model, params, stream),
                          completion_delta if stream else parse_completion)

    def _embed_call(self, input: Any, model: str | None, params: dict) -> Call:
        payload = embed_payload(input, model, params)
        return self._call('POST', 'embeddings', payload,
                          partial(parse_embeddings, count=len(payload['input'])))

    def _rerank_call(self, query: Any, documents: Any, model: str | None, top_n: Any,
                     params: dict) -> Call | None:
        """None when there is nothing to rank (no documents): the answer is [] without I/O."""
        payload = rerank_payload(query, documents, model, top_n, params)
        if not payload['documents']:
            return None
        return self._call('POST', 'rerank', payload, partial(parse_rerank, top_n=top_n))

    def _classify_call(self, input: Any, model: str | None, params: dict) -> Call:
        """``POST /classify`` beside the ``/v1/`` base, where vLLM serves it (lazyllm's engine
        serves both that and ``/v1/classify``)."""
        payload = classify_payload(input, model, params)
        root = self._root[:-len('v1/')] if self._root.endswith('/v1/') else self._root
        return self._call('POST', root + 'classify' + self._query, payload,
                          partial(parse_classify, count=len(payload['input'])))

    def _models_call(self) -> Call:
        return self._call('GET', 'models', None, parse_models)

    def _request_call(self, method: Any, path: Any, json: Any, *, form: Any = None,
                      files: Any = None, headers: Any = None, parse: Any = None,
                      raw: bool = False) -> Call:
        if not isinstance(method, str) or method.upper() not in _METHODS:
            raise InputError(f'method must be one of {", ".join(sorted(_METHODS))}, not '
                             f'{method!r}: pass e.g. "GET" or "POST"')
        if not isinstance(path, str):
            raise InputError(f'path must be a str, not {type(path).__name__}: pass e.g. '
                             f'"models" (under the base URL) or "/health" (from the root)')
        if parse is not None and not callable(parse):
            raise InputError('parse must be a callable (decoded JSON -> result) or None')
        headers = check_headers(headers)
        body = None
        if form is not None or files is not None:
            if json is not None:
                raise InputError('pass either json= or form=/files= (a multipart upload), '
                                 'not both')
            body, headers['Content-Type'] = encode_multipart(form, files)
        parse = raw_body if raw else (parse or _identity)
        return self._call(method.upper(), path, json, parse, body=body, headers=headers or None)

    def _events_call(self, path: Any, json: Any, parse: Any, headers: Any) -> Call:
        if not callable(parse):
            raise InputError('parse must be a callable: stream event JSON -> ChatDelta or None')
        return self._request_call('POST', path, json, headers=headers, parse=parse)

    def __repr__(self) -> str:
        return (f'<{type(self).__name__} base_url={redact(self.base_url, self._secrets)!r} '
                f'api_key={mask(self._api_key)} timeout={self.timeout:g}s '
                f'max_retries={self.max_retries}>')
