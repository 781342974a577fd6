"""The built-in speech-to-text engine: ``POST /v1/audio/transcriptions`` on faster-whisper
(``lazyllm.deploy.servers.stt``), serving CTranslate2 Whisper folders.

Options are checked here, before anything is launched: a combination CTranslate2 cannot run
(half precision on a CPU) fails at ``deploy_method`` / ``start()`` with the fix, not after a
model load in another process. What depends on the machine the engine runs on (is there a
GPU at all, which compute types it supports) is checked by the engine itself, which exits
with one readable line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import InputError
from ..hub import ModelType
from ._builtin import BuiltinEngine
from ._engine import Option, register_engine

__all__ = ['whisper', 'WhisperEngine']

_HALF = ('float16', 'int8_float16')


@dataclass(frozen=True, repr=False)
class WhisperEngine(BuiltinEngine):
    """A built-in engine whose options are also checked against each other."""

    def validate(self, options: dict) -> dict:
        checked = super().validate(options)
        device, compute = checked.get('device', 'auto'), checked.get('compute_type', 'auto')
        if device == 'cpu' and compute in _HALF:
            raise InputError(f'whisper engine: compute_type={compute!r} needs a CUDA GPU, but '
                             "device='cpu': use compute_type='int8' (fastest on CPU) or "
                             "'float32' (or 'auto'), or device='cuda' on a GPU machine.")
        for name, low in (('beam_size', 1), ('threads', 0)):
            if name in checked and checked[name] < low:
                raise InputError(f'whisper engine option {name} must be >= {low}, got '
                                 f'{checked[name]}' + (' (0: CTranslate2 picks)' if low == 0
                                                       else '') + '.')
        language = checked.get('language')
        if language is not None and not re.fullmatch(r'[a-z]{2,3}', language):
            raise InputError(f'whisper engine option language={language!r} is not an ISO-639-1 '
                             "code: use e.g. 'en', 'fr', 'zh', or leave it out to detect it.")
        return checked


whisper = register_engine(WhisperEngine(
    name='whisper', kind='stt', types=frozenset({ModelType.STT}),
    base_memory_mb=185,
    requires=('faster_whisper', 'fastapi', 'uvicorn'),
    install_hint="pip install 'lazyllm-model-layer[local,stt]'",
    options={
        'device': Option(str, None, 'where the model runs (auto: a GPU when CTranslate2 sees '
                         'one)', ('cpu', 'cuda', 'auto')),
        'compute_type': Option(str, None, 'CTranslate2 precision (auto: the fastest the '
                               'device supports)',
                               ('int8', 'float32', 'float16', 'int8_float16', 'auto')),
        'beam_size': Option(int, None, 'beam search width (1: greedy; default 5)'),
        'threads': Option(int, None, 'CPU threads per transcription (0: CTranslate2 picks)'),
        'language': Option(str, None, 'language of the audio when a request gives none '
                           '(default: detected)'),
    }))
