"""``lazyllm.deploy.classify``: the built-in text-classification engine (labels and scores).

It serves a ``*ForSequenceClassification`` folder with several labels through
``lazyllm.deploy.servers.classify`` (vLLM's ``POST /classify`` shape, also at
``/v1/classify``). Registered like every other engine, so ``deploy.auto`` picks it for
``ModelType.CLASSIFY``.
"""
from __future__ import annotations

from ..hub import ModelType
from ._builtin import _BATCH_WAIT, _DEVICE, _DTYPE, _REMOTE_CODE, BuiltinEngine
from ._engine import Option, register_engine

__all__ = ['classify']

classify = register_engine(BuiltinEngine(
    name='classify', kind='classify', types=frozenset({ModelType.CLASSIFY}),
    base_memory_mb=600,
    requires=('torch', 'transformers', 'fastapi', 'uvicorn'),
    options={
        'device': _DEVICE,
        'dtype': _DTYPE,
        'batch_size': Option(int, None, 'most texts classified together'),
        'batch_wait_ms': _BATCH_WAIT,
        'max_length': Option(int, None, "tokens read per text, longer texts are truncated "
                                        "(default: the model's own limit)"),
        'trust_remote_code': _REMOTE_CODE,
    }))
