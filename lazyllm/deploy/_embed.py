"""The built-in embedding and rerank engines: sentence-transformers models behind
``/v1/embeddings`` and ``/v1/rerank`` (``lazyllm.deploy.servers.embed``)."""
from __future__ import annotations

from ..hub import ModelType
from ._builtin import _BATCH_WAIT, _DEVICE, _DTYPE, _MAX_BODY, _REMOTE_CODE, BuiltinEngine
from ._engine import Option, register_engine

__all__ = ['embedding', 'rerank']

embedding = register_engine(BuiltinEngine(
    name='embedding', kind='embed', types=frozenset({ModelType.EMBED}),
    base_memory_mb=610,
    requires=('torch', 'sentence_transformers', 'fastapi', 'uvicorn'),
    options={
        'device': _DEVICE,
        'dtype': _DTYPE,
        'batch_size': Option(int, None, 'most texts encoded together'),
        'batch_wait_ms': _BATCH_WAIT,
        'normalize': Option(str, None, 'normalise vectors', ('auto', 'true', 'false')),
        'trust_remote_code': _REMOTE_CODE,
        'max_body_mb': _MAX_BODY,
    }))

rerank = register_engine(BuiltinEngine(
    name='rerank', kind='rerank', types=frozenset({ModelType.RERANK}),
    base_memory_mb=610,
    requires=('torch', 'sentence_transformers', 'fastapi', 'uvicorn'),
    options={
        'device': _DEVICE,
        'dtype': _DTYPE,
        'batch_size': Option(int, None, 'most pairs scored together'),
        'batch_wait_ms': _BATCH_WAIT,
        'trust_remote_code': _REMOTE_CODE,
        'max_body_mb': _MAX_BODY,
    }))
