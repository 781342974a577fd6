"""``lazyllm.deploy.vlm``: the built-in vision-language engine (image-to-text chat).

It serves, through ``lazyllm.deploy.servers.vlm``, OpenAI ``/v1/chat/completions`` whose user
messages carry ``image_url`` parts: image-captioning ``VisionEncoderDecoderModel`` folders
(the answer is the caption) and LLaVA-style ``AutoModelForImageTextToText`` folders with a
processor chat template. Registered like every other engine, so ``deploy.auto`` picks it for
``ModelType.VLM``.
"""
from __future__ import annotations

from ..hub import ModelType
from ._builtin import _DEVICE, _DTYPE, _REMOTE_CODE, BuiltinEngine
from ._engine import Option, register_engine

__all__ = ['vlm']

vlm = register_engine(BuiltinEngine(
    name='vlm', kind='vlm', types=frozenset({ModelType.VLM}),
    base_memory_mb=590, holds_stored_copy=True,
    requires=('torch', 'transformers', 'PIL', 'fastapi', 'uvicorn'),
    options={
        'device': _DEVICE,
        'dtype': _DTYPE,
        'max_model_len': Option(int, None, "context length of the text decoder (default: the "
                                "model's own)"),
        'default_max_tokens': Option(int, None, 'answer budget when a call gives none '
                                     '(default 128)'),
        'max_image_mb': Option(float, None, 'largest image the engine accepts, sent or '
                               'fetched (default 20)'),
        'fetch_timeout': Option(float, None, 'seconds to fetch an http(s) image URL '
                                '(default 10)'),
        'trust_remote_code': _REMOTE_CODE,
    }))
