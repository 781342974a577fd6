"""OnlineMultiModalModule: speech-to-text, text-to-speech and image generation online.

    stt = lazyllm.OnlineMultiModalModule(source='openai', type='stt')
    stt('meeting.wav')                        # -> 'the transcript'   (a path, bytes or a tuple)
    tts = lazyllm.OnlineMultiModalModule(source='openai', type='tts')
    tts('Hello there')                        # -> '/…/outputs/tts-….mp3'
    sd = lazyllm.OnlineMultiModalModule(source='qwen', type='text2image')
    sd('a red bicycle in the snow')           # -> ['/…/outputs/image-….png']

Generated audio and images are written to ``output_dir`` (default: the ``outputs`` folder of
the lazyllm home) and the module returns their paths: a pipeline can pass a path on, and
nothing large travels through the flow.
"""
from __future__ import annotations

import base64
import os
import time
import uuid
from pathlib import Path
from typing import Any

from ..._config import config
from ...client.protocols import dashscope, openai
from ...client.protocols.media import audio_file, image_url, media_type, split_data_url
from ...errors import InputError
from ._base import OnlineBase

__all__ = ['OnlineMultiModalModule']

_EXT = {'audio/mpeg': 'mp3', 'audio/wav': 'wav', 'audio/flac': 'flac', 'audio/ogg': 'ogg',
        'audio/mp4': 'm4a', 'audio/webm': 'webm', 'image/png': 'png', 'image/jpeg': 'jpg',
        'image/gif': 'gif', 'image/webp': 'webp', 'image/bmp': 'bmp'}


class OnlineMultiModalModule(OnlineBase):
    """``type`` is ``stt``, ``tts``, ``text2image`` (alias ``sd``) or ``image_editing``."""

    types = ('stt', 'tts', 'text2image', 'image_editing')
    default_type = 'stt'

    def __init__(self, model: str | None = None, source: str | None = None,
                 base_url: str | None = None, *, type: str | None = None,
                 api_key: str | None = None, output_dir: str | os.PathLike | None = None,
                 static_params: dict | None = None, timeout: float | None = None,
                 max_retries: int | None = None, poll_interval: float = 1.0,
                 name: str | None = None, return_trace: bool = False):
        super().__init__(model, source, base_url, type=type, api_key=api_key,
                         static_params=static_params, timeout=timeout,
                         max_retries=max_retries, name=name, return_trace=return_trace)
        if isinstance(poll_interval, bool) or not isinstance(poll_interval, (int, float)) \
                or poll_interval <= 0:
            raise InputError(f'poll_interval must be seconds > 0, not {poll_interval!r}')
        self._poll = float(poll_interval)
        self._output_dir = Path(output_dir) if output_dir is not None else None

    @property
    def output_dir(self) -> Path:
        return self._output_dir or config.home() / 'outputs'

    def _save(self, data: bytes, kind: str) -> str:
        folder = self.output_dir
        folder.mkdir(parents=True, exist_ok=True)
        ext = _EXT.get(media_type(data) or '', 'bin')
        path = folder / f'{kind}-{time.strftime("%Y%m%d-%H%M%S")}-{uuid.uuid4().hex[:8]}.{ext}'
        path.write_bytes(data)
        return str(path)

    def _images(self, items: list[dict]) -> list[str]:
        """Save each generated image (base64 in the answer, or a URL to fetch without the key)."""
        paths = []
        for item in items:
            if item.get('b64_json'):
                data = base64.b64decode(item['b64_json'])
            elif item.get('url', '').startswith('data:'):
                data = base64.b64decode(split_data_url(item['url'])[1])
            else:
                data = self._clients.plain(item['url']).request('GET', item['url'], raw=True)
            paths.append(self._save(data, 'image'))
        return paths

    def forward(self, input: Any = None, *, lazyllm_files: Any = None, **kw: Any) -> Any:
        model, url = self._target(kw.pop('model', None), kw.pop('url', None))
        params = {**self._static, **kw}
        protocol = self._supplier.protocol(self._type)
        files = lazyllm_files if isinstance(lazyllm_files, (list, tuple)) else \
            ([lazyllm_files] if lazyllm_files is not None else [])
        result = getattr(self, f'_{self._type}')(protocol, input, files, model, url, params)
        self._usage.add(None)
        return result

    # -- one method per call type -----------------------------------------------------------
    def _stt(self, protocol: str, input: Any, files: list, model: Any, url: str,
             params: dict) -> str:
        sources = ([input] if input is not None else []) + files
        if len(sources) != 1:
            raise InputError('speech-to-text takes one audio input: a path, bytes or '
                             '(filename, bytes), as the argument or in lazyllm_files=')
        audio = audio_file(sources[0])
        if protocol == 'dashscope':
            return dashscope.transcribe(self._clients, url, audio, model, params)
        return openai.transcribe(audio, model, params, self._supplier)(self._clients.api(url))

    def _tts(self, protocol: str, input: Any, files: list, model: Any, url: str,
             params: dict) -> str:
        if not isinstance(input, str) or not input.strip() or files:
            raise InputError('text-to-speech takes one non-empty str: tts("Hello there")')
        data = openai.speech(input, model, params, self._supplier)(self._clients.api(url))
        return self._save(data, 'tts')

    def _text2image(self, protocol: str, input: Any, files: list, model: Any, url: str,
                    params: dict) -> list[str]:
        if not isinstance(input, str) or not input.strip() or files:
            raise InputError('image generation takes one non-empty prompt str: '
                             'sd("a red bicycle in the snow")')
        if protocol == 'dashscope':
            items = dashscope.text2image(self._clients, url, input, model, params, self._poll)
        else:
            items = openai.images(input, model, params, self._supplier)(self._clients.api(url))
        return self._images(items)

    def _image_editing(self, protocol: str, input: Any, files: list, model: Any, url: str,
                       params: dict) -> list[str]:
        if not isinstance(input, str) or not input.strip() or len(files) != 1:
            raise InputError('image editing takes a prompt str and one image in '
                             'lazyllm_files=: edit("make it blue", lazyllm_files=["a.png"])')
        mime, data = split_data_url(image_url(files[0]))
        image = (f'image.{_EXT.get(mime, "png")}', base64.b64decode(data), mime)
        call = openai.edit_image(input, image, model, params, self._supplier)
        return self._images(call(self._clients.api(url)))
