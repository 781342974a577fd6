"""The built-in speech-to-text engine: ``POST /v1/audio/transcriptions`` (OpenAI's shape) on
faster-whisper, for a CTranslate2 Whisper folder (``model.bin``, ``config.json``,
``tokenizer.json``; convert a transformers folder with ``ct2-transformers-converter``).

Request (multipart/form-data, as OpenAI): ``file`` (the audio: anything ffmpeg decodes, WAV,
MP3, FLAC, OGG, M4A, WebM, …), and optionally ``model`` (accepted and ignored: one engine
serves one model), ``language`` (ISO-639-1; default: the engine's ``--language``, else
detected), ``prompt`` (text that guides spelling and style: Whisper's initial prompt),
``response_format`` (``json``: ``{"text"}``, ``text``: the plain text, ``verbose_json``: the
text with language, duration and segments) and ``temperature`` (0 to 1; 0 or absent: start
greedy and raise the temperature when decoding fails, as OpenAI does). Other fields are
refused with a 400 that lists these, rather than silently ignored.

A file that is not decodable audio is a 400 that says so (the decoder's reason included);
the model failing on good audio is a 500. The multipart body is parsed here (the format is
simple and this avoids a dependency on python-multipart).
"""
from __future__ import annotations

import argparse
import logging
import math
import os
import time
from email.message import Message
from io import BytesIO
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from ._app import ApiError, check_model, create_app

log = logging.getLogger('lazyllm.engine')

FORMATS = ('json', 'text', 'verbose_json')
FIELDS = ('file', 'model', 'language', 'prompt', 'response_format', 'temperature')
MAX_UPLOAD_MB = 100
_AUDIO_HELP = 'send audio that ffmpeg decodes (WAV, MP3, FLAC, OGG, M4A, WebM)'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--device', choices=('cpu', 'cuda', 'auto'), default='auto',
                        help='auto: a GPU when CTranslate2 sees one, else the CPU')
    parser.add_argument('--compute-type', default='auto',
                        choices=('int8', 'float32', 'float16', 'int8_float16', 'auto'),
                        help='CTranslate2 precision (auto: the fastest the device supports)')
    parser.add_argument('--beam-size', type=int, default=5, help='beam width (1: greedy)')
    parser.add_argument('--threads', type=int, default=0,
                        help='CPU threads per transcription (0: CTranslate2 picks)')
    parser.add_argument('--language', default=None,
                        help='language of the audio when a request gives none (default: '
                             'detected)')


def check_folder(folder: str) -> None:
    """A CTranslate2 Whisper folder, or an error that says what it is and what to do."""
    if not os.path.isdir(folder):
        raise FileNotFoundError(f'{folder} is not a folder: pass the model directory')
    if not os.path.isfile(os.path.join(folder, 'model.bin')):
        raise ValueError(f'{folder} has no model.bin, so it is not a CTranslate2 model: the '
                         'whisper engine serves CTranslate2 Whisper folders; convert a '
                         'transformers one with `ct2-transformers-converter --model FOLDER '
                         '--output_dir FOLDER-ct2 --copy_files tokenizer.json '
                         'preprocessor_config.json`')
    if not os.path.isfile(os.path.join(folder, 'tokenizer.json')):
        raise ValueError(f'{folder} has no tokenizer.json (faster-whisper would download one): '
                         'copy the tokenizer.json of the original Whisper model into it')


def resolve_device(device: str, compute_type: str) -> str:
    """The device the model will run on, after checking the machine can run the options."""
    import ctranslate2
    gpus = ctranslate2.get_cuda_device_count()
    if device == 'cuda' and gpus == 0:
        raise ValueError("device='cuda' but CTranslate2 sees no CUDA GPU here: use "
                         "device='cpu' or 'auto'")
    device = ('cuda' if gpus else 'cpu') if device == 'auto' else device
    supported = ctranslate2.get_supported_compute_types(device)
    if compute_type != 'auto' and compute_type not in supported:
        raise ValueError(f'compute_type={compute_type!r} is not supported on {device} (it '
                         f'supports {", ".join(sorted(supported))}): use compute_type='
                         f"{'int8' if device == 'cpu' else 'float16'!r} or 'auto'")
    return device


def build_app(args: argparse.Namespace) -> FastAPI:
    from faster_whisper import WhisperModel
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    check_folder(args.model)
    if args.beam_size < 1 or args.threads < 0:
        raise ValueError(f'--beam-size must be >= 1 and --threads >= 0, got {args.beam_size} '
                         f'and {args.threads}')
    device = resolve_device(args.device, args.compute_type)
    t0 = time.perf_counter()
    model = WhisperModel(args.model, device=device, compute_type=args.compute_type,
                         cpu_threads=args.threads, local_files_only=True)
    languages = frozenset(_LANGUAGE_CODES) if model.model.is_multilingual else frozenset({'en'})
    if args.language is not None and args.language not in languages:
        raise ValueError(f'--language {args.language!r} is not one this model knows: use one '
                         f'of {", ".join(sorted(languages))}, or leave it out')
    log.info('stt engine: loaded %s in %.1fs on %s (%s, %s), beam size %d', args.model,
             time.perf_counter() - t0, device, model.model.compute_type,
             'multilingual' if model.model.is_multilingual else 'English-only', args.beam_size)
    transcriber = Transcriber(model, languages, args.beam_size, args.language)
    app = create_app(served_name=args.served_model_name, aliases=args.alias, kind='stt')

    @app.post('/v1/audio/transcriptions')
    async def transcriptions(request: Request) -> Any:
        fields, files = await read_form(request)
        check_model(app, fields)
        audio, options, fmt = transcriber.request_of(fields, files)
        result = await anyio.to_thread.run_sync(transcriber.run, audio, options)
        if fmt == 'text':
            return PlainTextResponse(result['text'] + '\n')
        if fmt == 'json':
            return JSONResponse({'text': result['text'], 'usage': {
                'type': 'duration', 'seconds': math.ceil(result['duration'])}})
        return JSONResponse({'task': 'transcribe', **result})

    return app


class Transcriber:
    """Checks one request's fields, decodes its audio and transcribes it (in a thread)."""

    def __init__(self, model: Any, languages: frozenset, beam_size: int,
                 language: str | None):
        self.model, self.languages = model, languages
        self.beam_size, self.language = beam_size, language

    def request_of(self, fields: dict, files: dict) -> tuple[Any, dict, str]:
        """(decoded audio, transcribe() options, response format), or a 400."""
        unknown = sorted((set(fields) | set(files)) - set(FIELDS))
        if unknown:
            raise ApiError(400, f'unsupported field(s) {", ".join(unknown)}: this engine takes '
                                f'{", ".join(FIELDS)}')
        if 'file' not in files:
            raise ApiError(400, 'the "file" field is missing: upload the audio as a file part '
                                'named "file" (curl -F file=@speech.wav)' + (
                                    ' and not as a plain form value' if 'file' in fields
                                    else ''))
        fmt = fields.get('response_format') or 'json'
        if fmt not in FORMATS:
            raise ApiError(400, f'response_format must be one of {", ".join(FORMATS)}, got '
                                f'{fmt!r}' + (' (subtitles are not supported)'
                                              if fmt in ('srt', 'vtt') else ''))
        language = fields.get('language') or self.language
        if language is not None and language not in self.languages:
            hint = ('this model is English-only: omit language or send "en"'
                    if self.languages == {'en'} else 'use an ISO-639-1 code such as "en", '
                    '"fr" or "zh", or omit it to detect the language')
            raise ApiError(400, f'language {language!r} is not supported: {hint}')
        options = {'language': language, 'beam_size': self.beam_size,
                   'initial_prompt': fields.get('prompt') or None}
        temperature = temperature_of(fields.get('temperature'))
        if temperature:
            options['temperature'] = temperature
        filename, data = files['file']
        return self.decode(filename, data), options, fmt

    def decode(self, filename: str, data: bytes) -> Any:
        from faster_whisper import decode_audio
        what = f'the file {filename!r}' if filename else 'the file'
        if not data:
            raise ApiError(400, f'{what} is empty (0 bytes): {_AUDIO_HELP}')
        try:
            audio = decode_audio(BytesIO(data),
                                 sampling_rate=self.model.feature_extractor.sampling_rate)
        except Exception as e:  # noqa: BLE001 - any decoder failure means: not audio we read
            reason = getattr(e, 'strerror', None) or f'{type(e).__name__}: {e}'
            raise ApiError(400, f'{what} is not audio ({reason}): {_AUDIO_HELP}') from e
        if not len(audio):
            raise ApiError(400, f'{what} decodes to no audio samples: {_AUDIO_HELP} that '
                                f'holds sound')
        return audio

    def run(self, audio: Any, options: dict) -> dict:
        """The transcription as the verbose_json body (without ``task``); a model failure is
        a 500 that names it."""
        try:
            segments, info = self.model.transcribe(audio, **options)
            segments = list(segments)
        except Exception as e:  # noqa: BLE001 - the model's error, reported to the caller
            log.exception('transcription failed')
            raise ApiError(500, f'the model failed on this audio: {type(e).__name__}: {e}',
                           'server_error') from e
        return {
            'language': info.language, 'duration': round(float(info.duration), 3),
            'text': ''.join(s.text for s in segments).strip(),
            'segments': [{'id': i, 'seek': s.seek, 'start': round(s.start, 3),
                          'end': round(s.end, 3), 'text': s.text, 'tokens': list(s.tokens),
                          'temperature': s.temperature, 'avg_logprob': s.avg_logprob,
                          'compression_ratio': s.compression_ratio,
                          'no_speech_prob': s.no_speech_prob}
                         for i, s in enumerate(segments)]}


def temperature_of(value: str | None) -> float:
    if value is None or value == '':
        return 0.0
    try:
        t = float(value)
    except ValueError:
        raise ApiError(400, f'temperature must be a number from 0 to 1, got {value!r}') from None
    if not 0.0 <= t <= 1.0:
        raise ApiError(400, f'temperature must be from 0 to 1, got {t:g}')
    return t


# -- multipart/form-data ----------------------------------------------------------------------
async def read_form(request: Request) -> tuple[dict[str, str], dict[str, tuple[str, bytes]]]:
    """The form fields and file parts (name -> (filename, bytes)) of a multipart request."""
    ctype = request.headers.get('content-type', '')
    size = request.headers.get('content-length', '')
    if size.isdigit() and int(size) > MAX_UPLOAD_MB * 2**20:
        raise ApiError(413, f'the upload is {int(size) / 2**20:.0f} MB, over this engine\'s '
                            f'{MAX_UPLOAD_MB} MB limit: split or compress the audio')
    return parse_multipart(await request.body(), ctype)


def _param(header: str, name: str, key: str) -> str | None:
    msg = Message()
    msg[name] = header
    value = msg.get_param(key, header=name)
    return value if value is None or isinstance(value, str) else str(value[2])


def parse_multipart(body: bytes, content_type: str
                    ) -> tuple[dict[str, str], dict[str, tuple[str, bytes]]]:
    if not content_type.lower().startswith('multipart/form-data'):
        raise ApiError(400, 'send a multipart/form-data body with the audio in a "file" field '
                            f'(curl -F file=@speech.wav), not {content_type or "no content type"}')
    boundary = _param(content_type, 'content-type', 'boundary')
    if not boundary:
        raise ApiError(400, 'the multipart Content-Type has no boundary=: let your HTTP client '
                            'build the form')
    fields: dict[str, str] = {}
    files: dict[str, tuple[str, bytes]] = {}
    parts = (b'\r\n' + body).split(b'\r\n--' + boundary.encode('latin-1'))
    for raw in parts[1:]:
        if raw.startswith(b'--'):   # the closing delimiter
            break
        head, sep, data = raw.partition(b'\r\n\r\n')
        if not sep:
            raise ApiError(400, 'malformed multipart body (a part without headers): let your '
                                'HTTP client build the form')
        headers = {}
        for line in head.decode('utf-8', 'replace').split('\r\n'):
            key, _, value = line.partition(':')
            if key.strip():
                headers[key.strip().lower()] = value.strip()
        disposition = headers.get('content-disposition', '')
        name = _param(disposition, 'content-disposition', 'name')
        if name is None:
            raise ApiError(400, 'malformed multipart body (a part without a name): let your '
                                'HTTP client build the form')
        filename = _param(disposition, 'content-disposition', 'filename')
        if filename is not None:
            files[name] = (filename, data)
        else:
            fields[name] = data.decode('utf-8', 'replace')
    else:
        raise ApiError(400, 'malformed multipart body (no closing boundary): the upload was '
                            'cut short or the boundary does not match')
    return fields, files
