"""The built-in vision-language engine: image-to-text on transformers behind OpenAI's chat API.

``POST /v1/chat/completions`` takes OpenAI messages whose user content may hold
``{"type": "image_url", "image_url": {"url": …}}`` parts. An image URL is a data URL
(``data:image/png;base64,…``) or an http(s) URL that the engine fetches itself (timeout
``--fetch-timeout``, at most ``--max-image-mb``); any other scheme (``file:``, ``ftp:``…) is
refused with a 400, so a caller cannot make the engine read its own disk. Images are decoded
with PIL; bytes that are not an image are a 400 with PIL's reason.

Two kinds of model folders are served:

- **Captioning** (``VisionEncoderDecoderModel``: a ViT/Swin/… encoder and a GPT-2/BERT/…
  decoder, e.g. ``vit-gpt2-image-captioning``). The answer is the caption of the image in the
  most recent user message that carries one (one image there; more is a 400). Such models
  are not instruction-following: the text of the messages is **not** used (not even as a
  decoder prefix, which would only bias a caption with words the model never saw as a
  prompt). A request without an image is a 400 that says to attach one. ``usage.prompt_tokens``
  is 0 (no text is read).
- **Chat VLMs** (LLaVA-style; ``AutoModelForImageTextToText`` with an ``AutoProcessor`` that
  has a chat template). The conversation is rendered with ``processor.apply_chat_template``
  (each image part becomes ``{"type": "image"}`` in place), the images go to the processor
  with it, and the answer is what ``generate`` adds. Text-only requests are allowed.

Sampling: ``temperature`` 0 is greedy (one beam); above 0 samples with ``temperature``,
``top_p``, ``top_k`` and ``seed``; absent, the model's own ``generation_config`` decides
(captioning models usually decode greedily or with beams). ``max_tokens`` (or
``max_completion_tokens``) bounds the answer, default ``--default-max-tokens``. ``n`` must
be 1. ``stream: true`` is answered as Server-Sent Events with the whole answer in one
content chunk (the engine does not stream token by token), then the usage chunk when
``stream_options.include_usage`` is set, then ``[DONE]``. One generation runs at a time.

``GET /metrics`` counts tokens and the requests waiting or generating (``_metrics``); as the
whole answer comes at once, its time to first token is the time to the answer.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import io
import logging
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, AsyncIterator

from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse

from ._app import ApiError, FastJSONResponse, check_model, create_app, read_body
from ._fields import max_tokens_of
from ._placement import DTYPES, device_of, dtype_of
from ._shapes import Choice, Shapes

log = logging.getLogger('lazyllm.engine')
_IMAGE_FIX = 'send a PNG, JPEG, GIF, WebP or BMP image'
_ROLES = ('system', 'developer', 'user', 'assistant')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--dtype', choices=DTYPES, default='auto')
    parser.add_argument('--device', default='cpu', help='cpu, cuda, cuda:1, … or auto')
    parser.add_argument('--max-model-len', type=int, default=None,
                        help="context length of the text decoder (default: the model's own)")
    parser.add_argument('--default-max-tokens', type=int, default=128,
                        help='answer budget when a request gives no max_tokens')
    parser.add_argument('--max-image-mb', type=float, default=20.0,
                        help='largest image accepted (data URL or fetched)')
    parser.add_argument('--fetch-timeout', type=float, default=10.0,
                        help='seconds to fetch an http(s) image URL')
    parser.add_argument('--trust-remote-code', action='store_true')


# ------------------------------------------------------------------------------ requests

@dataclass
class Turn:
    """One message: its role, its text, and its images (URLs until decoded), in order."""
    role: str
    parts: list          # ('text', str) or ('image', url)

    @property
    def images(self) -> list[str]:
        return [v for k, v in self.parts if k == 'image']


def turns_of(body: dict) -> list[Turn]:
    messages = body.get('messages')
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, 'messages must be a non-empty list of {"role", "content"} objects')
    turns = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get('role') not in _ROLES:
            raise ApiError(400, f'messages[{i}] needs a role of system, user or assistant')
        content, parts = m.get('content'), []
        if isinstance(content, str):
            parts.append(('text', content))
        elif isinstance(content, list):
            for j, p in enumerate(content):
                kind = p.get('type') if isinstance(p, dict) else None
                if kind == 'text' and isinstance(p.get('text'), str):
                    parts.append(('text', p['text']))
                elif kind == 'image_url':
                    url = p.get('image_url')
                    url = url.get('url') if isinstance(url, dict) else url
                    if not isinstance(url, str) or not url:
                        raise ApiError(400, f'messages[{i}].content[{j}].image_url needs a '
                                            '"url": a data:image/…;base64, URL or an http(s) URL')
                    parts.append(('image', url))
                else:
                    raise ApiError(400, f'messages[{i}].content[{j}] must be a "text" or an '
                                        f'"image_url" part, got {str(kind or p)[:40]!r}')
        elif content is not None:
            raise ApiError(400, f'messages[{i}].content must be a string or a list of parts')
        if parts and m['role'] != 'user' and any(k == 'image' for k, _ in parts):
            raise ApiError(400, f'messages[{i}] ({m["role"]}) has an image: images go in user '
                                'messages')
        turns.append(Turn(m['role'], parts))
    return turns


def _number(body: dict, key: str, lo: float, hi: float) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
        raise ApiError(400, f'{key} must be a number from {lo} to {hi}, got {value!r}')
    return value


def sampling_of(body: dict) -> dict:
    """``generate`` keywords for the request's sampling fields (empty: the model's own)."""
    for key, ok in (('n', 1), ('logprobs', False), ('best_of', 1), ('echo', False)):
        if body.get(key) not in (None, ok):
            raise ApiError(400, f'{key}={body[key]!r} is not supported by the lazyllm vlm '
                                'engine: omit it')
    temperature = _number(body, 'temperature', 0.0, 2.0)
    if temperature is None:
        return {}
    if temperature == 0:
        return {'do_sample': False, 'num_beams': 1}
    out: dict = {'do_sample': True, 'temperature': float(temperature), 'num_beams': 1}
    top_p = _number(body, 'top_p', 0.0, 1.0)
    top_k = _number(body, 'top_k', -1, 1e9)
    if top_p:
        out['top_p'] = float(top_p)
    if top_k and top_k > 0:
        out['top_k'] = int(top_k)
    seed = body.get('seed')
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ApiError(400, f'seed must be an int, got {seed!r}')
    out['seed'] = seed
    return out


# ------------------------------------------------------------------------------ images

class ImageReader:
    """Image URLs -> RGB PIL images, with the engine's size cap and fetch timeout."""

    def __init__(self, max_mb: float, timeout: float):
        self.max_bytes, self.timeout = int(max_mb * 2**20), timeout
        self.max_mb = max_mb

    def _too_big(self, what: str, n: int) -> ApiError:
        return ApiError(400, f'{what} is over {n / 2**20:.1f} MB, more than this engine takes '
                             f'({self.max_mb:g} MB, --max-image-mb): resize or compress it')

    def fetch(self, url: str, what: str) -> bytes:
        request = urllib.request.Request(url, headers={'User-Agent': 'lazyllm-vlm-engine'})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                size = int(response.headers.get('Content-Length') or 0)
                if size > self.max_bytes:
                    raise self._too_big(what, size)
                data = response.read(self.max_bytes + 1)
        except urllib.error.HTTPError as e:
            raise ApiError(400, f'{what}: fetching {url[:200]} answered HTTP {e.code} '
                                f'({e.reason}): check the URL, or send the image as a data '
                                'URL') from None
        except (urllib.error.URLError, OSError, ValueError) as e:
            reason = getattr(e, 'reason', None) or e
            raise ApiError(400, f'{what}: cannot fetch {url[:200]} within {self.timeout:g}s '
                                f'({reason}): check that this engine can reach it, or send '
                                'the image as a data URL') from None
        if len(data) > self.max_bytes:
            raise self._too_big(what, len(data))
        return data

    def data(self, url: str, what: str) -> bytes:
        if url.startswith('data:'):
            head, sep, payload = url[5:].partition(',')
            if not sep or not head.endswith(';base64'):
                raise ApiError(400, f'{what} is a data URL without ";base64,": send '
                                    'data:image/png;base64,<base64 of the file>')
            if len(payload) * 3 // 4 > self.max_bytes:
                raise self._too_big(what, len(payload) * 3 // 4)
            try:
                return base64.b64decode(payload, validate=True)
            except (binascii.Error, ValueError) as e:
                raise ApiError(400, f'{what} is not valid base64 ({e}): encode the file '
                                    'with base64.b64encode') from None
        if url.startswith(('http://', 'https://')):
            return self.fetch(url, what)
        scheme = url.split(':', 1)[0] if ':' in url[:12] else url[:20]
        raise ApiError(400, f'{what}: the URL scheme {scheme!r} is refused: send a '
                            'data:image/…;base64, URL (the bytes themselves) or an http(s) URL')

    def image(self, url: str, what: str) -> Any:
        from PIL import Image
        data = self.data(url, what)
        if not data:
            raise ApiError(400, f'{what} is empty (0 bytes): {_IMAGE_FIX}')
        try:
            img = Image.open(io.BytesIO(data))
            img.load()
            return img.convert('RGB')
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
            raise ApiError(400, f'{what} cannot be decoded as an image ({type(e).__name__}: '
                                f'{e}): {_IMAGE_FIX}') from None

    async def images(self, urls: list[str], first: int = 0) -> list:
        return [await asyncio.to_thread(self.image, url, f'image #{first + i}')
                for i, url in enumerate(urls)]


# ------------------------------------------------------------------------------ models

def _device_dtype(args: argparse.Namespace) -> tuple[str, Any]:
    device = device_of(args.device)               # checked before any weight is read
    return device, dtype_of(args.dtype, device)


class Captioner:
    """A VisionEncoderDecoderModel: one image -> its caption (the text is not used)."""
    captions = True

    def __init__(self, args: argparse.Namespace, device: str, dtype: Any):
        from transformers import AutoImageProcessor, AutoTokenizer, VisionEncoderDecoderModel
        common = {'trust_remote_code': args.trust_remote_code}
        self.processor = AutoImageProcessor.from_pretrained(args.model, **common)
        self.tok = AutoTokenizer.from_pretrained(args.model, **common)
        self.model = VisionEncoderDecoderModel.from_pretrained(args.model, dtype=dtype, **common)
        self.model.to(device).eval()
        self.device = device
        own = getattr(self.model.config.decoder, 'max_position_embeddings', None) or 512
        self.context = min(args.max_model_len, own) if args.max_model_len else own
        self.stops = {self.tok.eos_token_id, self.model.generation_config.eos_token_id} - {None}

    async def inputs(self, turns: list[Turn], reader: ImageReader) -> tuple[dict, int]:
        with_image = [t for t in turns if t.images]
        if not with_image:
            raise ApiError(400, 'this is an image-captioning model and the request has no '
                                'image: attach one as an image_url part of the user message '
                                "(lazyllm: m('describe it', lazyllm_files=['photo.png']))")
        urls = with_image[-1].images
        if len(urls) > 1:
            raise ApiError(400, f'this image-captioning model captions one image per request, '
                                f'the last user message has {len(urls)}: send them one by one')
        first = sum(len(t.images) for t in with_image[:-1])
        images = await reader.images(urls, first)
        pixels = self.processor(images=images, return_tensors='pt').pixel_values
        return {'pixel_values': pixels.to(self.device, self.model.dtype)}, 0

    def generate(self, inputs: dict, params: dict) -> tuple[str, int, str]:
        out = self.model.generate(**inputs, **params)[0][1:]   # after decoder_start
        return _decoded(self.tok, out.tolist(), self.stops, params['max_new_tokens'])


class ChatVLM:
    """An AutoModelForImageTextToText with an AutoProcessor that has a chat template."""
    captions = False

    def __init__(self, args: argparse.Namespace, device: str, dtype: Any):
        from transformers import AutoModelForImageTextToText, AutoProcessor
        common = {'trust_remote_code': args.trust_remote_code}
        self.processor = AutoProcessor.from_pretrained(args.model, **common)
        self.tok = getattr(self.processor, 'tokenizer', self.processor)
        if not (getattr(self.processor, 'chat_template', None)
                or getattr(self.tok, 'chat_template', None)):
            raise ValueError(f'{args.model} has no chat template in its processor or tokenizer: '
                             'the vlm engine needs one to place the images in the prompt '
                             '(add chat_template.jinja to the folder)')
        self.model = AutoModelForImageTextToText.from_pretrained(args.model, dtype=dtype,
                                                                 **common)
        self.model.to(device).eval()
        self.device = device
        text = getattr(self.model.config, 'text_config', None) or self.model.config
        own = getattr(text, 'max_position_embeddings', None) or 4096
        self.context = min(args.max_model_len, own) if args.max_model_len else own
        eos = self.model.generation_config.eos_token_id
        self.stops = set(eos if isinstance(eos, list) else [eos]) | {self.tok.eos_token_id}
        self.stops.discard(None)

    async def inputs(self, turns: list[Turn], reader: ImageReader) -> tuple[dict, int]:
        conversation, urls = [], []
        for t in turns:
            content = []
            for kind, value in t.parts:
                content.append({'type': 'text', 'text': value} if kind == 'text'
                               else {'type': 'image'})
                urls += [value] if kind == 'image' else []
            conversation.append({'role': 'system' if t.role == 'developer' else t.role,
                                 'content': content})
        images = await reader.images(urls)
        prompt = self.processor.apply_chat_template(conversation, add_generation_prompt=True,
                                                    tokenize=False)
        inputs = self.processor(text=prompt, images=images or None, return_tensors='pt')
        inputs = {k: (v.to(self.device, self.model.dtype) if v.is_floating_point()
                      else v.to(self.device)) for k, v in inputs.items() if hasattr(v, 'to')}
        return inputs, int(inputs['input_ids'].shape[1])

    def generate(self, inputs: dict, params: dict) -> tuple[str, int, str]:
        out = self.model.generate(**inputs, **params)[0][inputs['input_ids'].shape[1]:]
        return _decoded(self.tok, out.tolist(), self.stops, params['max_new_tokens'])


def _decoded(tok: Any, ids: list[int], stops: set, budget: int) -> tuple[str, int, str]:
    """(text, completion tokens, finish reason) of generated ids (pads after a stop cut)."""
    end = next((i for i, t in enumerate(ids) if t in stops), None)
    kept = ids if end is None else ids[:end + 1]
    reason = 'stop' if end is not None or len(kept) < budget else 'length'
    return tok.decode(kept, skip_special_tokens=True), len(kept), reason


def load(args: argparse.Namespace) -> Captioner | ChatVLM:
    import os

    from transformers import AutoConfig
    if not os.path.isdir(args.model):
        raise FileNotFoundError(f'{args.model} is not a folder: pass the model directory')
    t0 = time.perf_counter()
    device, dtype = _device_dtype(args)
    config = AutoConfig.from_pretrained(args.model, trust_remote_code=args.trust_remote_code)
    cls = Captioner if config.model_type == 'vision-encoder-decoder' else ChatVLM
    vlm = cls(args, device, dtype)
    log.info('vlm engine: loaded %s (%s, %s) on %s in %.1fs', args.model,
             'image captioning' if vlm.captions else 'chat', type(vlm.model).__name__, device,
             time.perf_counter() - t0)
    return vlm


# ------------------------------------------------------------------------------ app

def build_app(args: argparse.Namespace) -> FastAPI:
    vlm = load(args)
    reader = ImageReader(args.max_image_mb, args.fetch_timeout)
    app = create_app(served_name=args.served_model_name, aliases=args.alias,
                     kind='vlm', max_model_len=vlm.context)
    lock = threading.Lock()
    metrics = app.state.metrics.generation

    def run(inputs: dict, params: dict) -> tuple[str, int, str]:
        import torch
        seed = params.pop('seed', None)
        with lock, torch.inference_mode():
            if seed is not None:
                torch.manual_seed(seed)
            return vlm.generate(inputs, params)

    @app.post('/v1/chat/completions')
    async def chat(request: Request) -> Any:
        started = time.perf_counter()
        body = await read_body(request, '{"messages": [{"role": "user", "content": [{"type": '
                                        '"image_url", "image_url": {"url": "data:image/png;'
                                        'base64,…"}}]}]}')
        check_model(app, body)
        turns = turns_of(body)
        params = sampling_of(body)
        inputs, prompt_tokens = await vlm.inputs(turns, reader)
        params['max_new_tokens'] = max_tokens_of(body, max(prompt_tokens, 1), vlm.context,
                                                 args.default_max_tokens)
        try:
            with metrics.queue_depth.track_inprogress():
                text, tokens, reason = await asyncio.to_thread(run, inputs, params)
        except Exception as e:  # noqa: BLE001 - one readable 500, the trace in the log
            log.exception('generation failed')
            raise ApiError(500, f'generation failed: {type(e).__name__}: {e}',
                           'server_error') from None
        metrics.ttft.observe(time.perf_counter() - started)
        metrics.prompt_tokens.inc(prompt_tokens)
        metrics.completion_tokens.inc(tokens)
        shapes, done = Shapes('chat', args.served_model_name), Choice(text, reason, tokens)
        if body.get('stream'):
            usage = bool((body.get('stream_options') or {}).get('include_usage'))
            return StreamingResponse(_one_chunk(shapes, done, prompt_tokens if usage else None),
                                     media_type='text/event-stream',
                                     headers={'Cache-Control': 'no-cache'})
        return FastJSONResponse(shapes.answer([done], prompt_tokens))

    return app


async def _one_chunk(shapes: Shapes, done: Choice, prompt_tokens: int | None
                     ) -> AsyncIterator[bytes]:
    from ._shapes import usage
    yield shapes.chunk(0, {'role': 'assistant', 'content': ''}, None)
    yield shapes.chunk(0, {'content': done.content}, done.finish_reason)
    if prompt_tokens is not None:
        yield shapes.chunk(None, None, None,
                           totals=usage(prompt_tokens, done.completion_tokens))
    yield b'data: [DONE]\n\n'
