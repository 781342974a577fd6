"""DashScope's native API (Alibaba Cloud Model Studio), for the calls its OpenAI-compatible
mode does not offer: rerank, speech-to-text with Qwen-Audio, and image synthesis.

Its quirks live here and nowhere else:

- the native root is ``<origin>/api/v1/``, beside the compatible mode's ``/compatible-mode/v1/``;
- bodies nest the input (``{"model", "input": {…}, "parameters": {…}}``) and answers nest the
  output (``{"output": {…}, "usage": {…}, "request_id"}``); errors are ``{"code", "message"}``;
- a native stream (``X-DashScope-SSE: enable``) repeats the whole text in every event unless
  ``parameters.incremental_output`` is true, which is why we always set it;
- local files reach a model only through DashScope's temporary storage: ask for an upload
  policy (``GET uploads?action=getPolicy``), POST the file to the object store it names (a
  form, *without* our API key: it is another host), then pass ``oss://<key>`` with the header
  ``X-DashScope-OssResourceResolve: enable``;
- image synthesis is an asynchronous task (``X-DashScope-Async: enable``) polled at
  ``tasks/<id>`` until it succeeds or fails.

The single-request calls return a function of a client, like ``_openai``; the multi-step
ones (upload, task) take the module's :class:`~._clients.Clients`.
"""
from __future__ import annotations

import time
from typing import Any, Callable
from urllib.parse import quote, urlsplit

from ...errors import EndpointTimeout, InputError, OnlineAPIError
from .._parse import ShapeError
from .._types import ChatDelta, ChatResult

__all__ = ['native_root', 'rerank', 'multimodal_embed', 'chat', 'transcribe', 'text2image']

_TERMINAL = ('SUCCEEDED', 'FAILED', 'CANCELED', 'UNKNOWN')


def native_root(base_url: str) -> str:
    """``https://dashscope.aliyuncs.com/api/v1/`` for any URL on the same host."""
    parts = urlsplit(base_url)
    return f'{parts.scheme}://{parts.netloc}/api/v1/'


def _output(data: Any, key: str) -> Any:
    try:
        return data['output'][key]
    except (KeyError, TypeError):
        raise ShapeError(f'expected {{"output": {{"{key}": …}}}}, got {data!r:.200}') from None


def _ranked(data: Any) -> list[tuple[int, float]]:
    try:
        pairs = [(int(r['index']), float(r['relevance_score']))
                 for r in _output(data, 'results')]
    except (KeyError, TypeError, ValueError):
        raise ShapeError(f'expected results with index and relevance_score: {data!r:.200}') \
            from None
    return sorted(pairs, key=lambda p: -p[1])


def rerank(query: str, documents: list, model: str | None, top_n: int | None, params: dict,
           root: str) -> Callable[[Any], Any]:
    parameters = {**params, **({'top_n': top_n} if top_n else {})}
    body = {'model': model, 'input': {'query': query, 'documents': list(documents)},
            'parameters': parameters}
    url = root + 'services/rerank/text-rerank/text-rerank'
    return lambda c: c.request('POST', url, json=body, parse=_ranked)


def _vectors(data: Any) -> list[list[float]]:
    try:
        items = sorted(_output(data, 'embeddings'), key=lambda e: e.get('index', 0))
        return [list(e['embedding']) for e in items]
    except (KeyError, TypeError, AttributeError):
        raise ShapeError(f'expected output.embeddings[{{index, embedding}}]: {data!r:.200}') \
            from None


def multimodal_embed(contents: list, model: str | None, params: dict,
                     root: str) -> Callable[[Any], Any]:
    """Texts and images (``[{'text': …} | {'image': url}]``) in one vector space."""
    body = {'model': model, 'input': {'contents': contents}, 'parameters': params}
    url = root + 'services/embeddings/multimodal-embedding/multimodal-embedding'
    return lambda c: c.request('POST', url, json=body, parse=_vectors)


def _message_text(data: Any) -> str:
    """The text of ``output.choices[0].message`` (a str, or a list of ``{"text"}`` items)."""
    try:
        content = _output(data, 'choices')[0]['message']['content']
    except (KeyError, IndexError, TypeError):
        raise ShapeError(f'expected output.choices[0].message.content: {data!r:.200}') from None
    if isinstance(content, list):
        return ''.join(part.get('text', '') for part in content if isinstance(part, dict))
    return content if isinstance(content, str) else ''


def _usage(data: Any) -> dict | None:
    """DashScope's ``usage`` (input/output tokens) in the OpenAI names."""
    usage = data.get('usage') if isinstance(data, dict) else None
    if not isinstance(usage, dict):
        return None
    prompt, completion = usage.get('input_tokens') or 0, usage.get('output_tokens') or 0
    return {'prompt_tokens': prompt, 'completion_tokens': completion,
            'total_tokens': usage.get('total_tokens') or prompt + completion}


def _finish(data: Any) -> str | None:
    finish = _output(data, 'choices')[0].get('finish_reason')
    return None if finish in (None, 'null') else finish   # "null", a string, until the end


def _result(data: Any) -> ChatResult:
    """A whole native answer as a ChatResult."""
    return ChatResult(_message_text(data), '', [], _finish(data), _usage(data),
                      data.get('model'), data)


def _delta(data: Any) -> ChatDelta | None:
    """One event of a native stream with ``incremental_output`` on: the new text."""
    return ChatDelta(content=_message_text(data), finish_reason=_finish(data),
                     usage=_usage(data), raw=data)


def chat(messages: list, model: str | None, params: dict, stream: bool, supplier: Any,
         base_url: str) -> Callable[[Any], Any]:
    """A native text-generation call (for suppliers whose chat protocol is ``dashscope``)."""
    parameters = {'result_format': 'message', **params}
    url = native_root(base_url) + 'services/aigc/text-generation/generation'
    if stream:
        parameters['incremental_output'] = True   # else every event repeats the whole text
        body = {'model': model, 'input': {'messages': messages}, 'parameters': parameters}
        return lambda c: c.stream_events(url, json=body, parse=_delta,
                                         headers={'X-DashScope-SSE': 'enable'})
    body = {'model': model, 'input': {'messages': messages}, 'parameters': parameters}
    return lambda c: c.request('POST', url, json=body, parse=_result)


def upload(clients: Any, root: str, model: str, audio: tuple) -> str:
    """Put a local file in DashScope's temporary storage; its ``oss://`` URL."""
    filename, data, ctype = audio
    policy = clients.api(root).request('GET', root + f'uploads?action=getPolicy&model='
                                       f'{quote(model)}')
    try:
        p = policy['data']
        key = f"{p['upload_dir']}/{filename}"
        form = {'OSSAccessKeyId': p['oss_access_key_id'], 'Signature': p['signature'],
                'policy': p['policy'], 'key': key, 'x-oss-object-acl': p['x_oss_object_acl'],
                'x-oss-forbid-overwrite': p['x_oss_forbid_overwrite'],
                'success_action_status': '200'}
        host = p['upload_host']
    except (KeyError, TypeError):
        raise InputError(f'DashScope answered an upload policy without the expected fields '
                         f'({policy!r:.200}): check the model name and the key') from None
    clients.plain(host).request('POST', host, form=form, files={'file': (filename, data, ctype)},
                            raw=True)
    return f'oss://{key}'


def transcribe(clients: Any, base_url: str, audio: tuple, model: str, params: dict) -> str:
    """Qwen-Audio speech-to-text: upload the file, then ask the model for its transcript."""
    root = native_root(base_url)
    params = dict(params)
    prompt = params.pop('prompt', 'Transcribe this audio verbatim.')
    url = upload(clients, root, model, audio)
    messages = [{'role': 'user', 'content': [{'audio': url}, {'text': prompt}]}]
    body = {'model': model, 'input': {'messages': messages}, 'parameters': params}
    return clients.api(root).request(
        'POST', root + 'services/aigc/multimodal-generation/generation', json=body,
        parse=_message_text, headers={'X-DashScope-OssResourceResolve': 'enable'})


def text2image(clients: Any, base_url: str, prompt: str, model: str, params: dict,
               poll_interval: float = 1.0) -> list[dict]:
    """Start an image-synthesis task, poll it, and return ``[{'url': …}]`` of its images."""
    root = native_root(base_url)
    client = clients.api(root)
    params = dict(params)
    input = {'prompt': prompt}
    if 'negative_prompt' in params:
        input['negative_prompt'] = params.pop('negative_prompt')
    body = {'model': model, 'input': input, 'parameters': params}
    task_id = client.request('POST', root + 'services/aigc/text2image/image-synthesis',
                             json=body, headers={'X-DashScope-Async': 'enable'},
                             parse=lambda d: _output(d, 'task_id'))
    deadline = time.monotonic() + client.timeout
    while True:
        out = client.request('GET', root + f'tasks/{quote(str(task_id))}',
                             parse=lambda d: _output(d, 'task_status') and d['output'])
        status = out.get('task_status')
        if status == 'SUCCEEDED':
            return [r for r in out.get('results', []) if isinstance(r, dict) and r.get('url')]
        if status in _TERMINAL:
            raise OnlineAPIError(f'DashScope image task {task_id} ended {status}: '
                                 f'{out.get("code", "")} {out.get("message", "")}: change the '
                                 f'prompt or parameters and call again', url=root, status=200,
                                 body=str(out)[:500])
        if time.monotonic() + poll_interval > deadline:
            raise EndpointTimeout(f'DashScope image task {task_id} was still {status} after '
                                  f'timeout={client.timeout:g} s: raise timeout= (or '
                                  f'LAZYLLM_TIMEOUT) and call again', url=root)
        time.sleep(poll_interval)
