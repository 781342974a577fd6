"""The built-in engines: our own OpenAI-compatible servers (``lazyllm.deploy.servers``)."""
from __future__ import annotations

import sys
from dataclasses import dataclass

from ..hub import ModelType
from ._engine import Engine, Option, register_engine

_ERROR_TAG = 'lazyllm engine error:'
_DEVICE = Option(str, None, 'cpu, cuda, cuda:N or auto')
_DTYPE = Option(str, None, 'weights precision', ('auto', 'float32', 'bfloat16', 'float16'))
_REMOTE_CODE = Option(bool, None, "run the model folder's own code")
_BATCH_WAIT = Option(float, None, 'ms a batch waits for more requests after its first')


@dataclass(frozen=True, repr=False)
class BuiltinEngine(Engine):
    kind: str = ''

    def argv(self, model_dir: str, *, host: str, port: int, served_name: str,
             options: dict, python: str = sys.executable) -> list[str]:
        return [python, '-m', 'lazyllm.deploy.servers', self.kind, '--model', str(model_dir),
                '--host', host, '--port', str(port), '--served-model-name', served_name,
                *self.flags(options)]

    def failure_reason(self, log: str) -> str:
        """Our servers print one line 'lazyllm engine error: <cause and fix>' before exiting
        (lazyllm.deploy.servers.__main__)."""
        line = next((ln for ln in reversed(log.splitlines()) if _ERROR_TAG in ln), '')
        return line.split(_ERROR_TAG, 1)[1].strip() if line else ''


transformers = register_engine(BuiltinEngine(
    name='transformers', kind='llm', types=frozenset({ModelType.LLM}),
    requires=('torch', 'transformers', 'fastapi', 'uvicorn'),
    options={
        'dtype': _DTYPE,
        'device': _DEVICE,
        'max_batch': Option(int, None, 'most requests generated together (dynamic batching)'),
        'max_model_len': Option(int, None, "context length (default: the model's own)"),
        'default_max_tokens': Option(int, None, 'answer budget when a call gives none'),
        'chat_template': Option(str, None, 'a Jinja chat template file'),
        'threads': Option(int, None, 'torch CPU threads'),
        'trust_remote_code': _REMOTE_CODE,
        'log_requests': Option(bool, None, 'log request bodies (prompts) to the engine log'),
    }))

embedding = register_engine(BuiltinEngine(
    name='embedding', kind='embed', types=frozenset({ModelType.EMBED}),
    requires=('torch', 'sentence_transformers', 'fastapi', 'uvicorn'),
    options={
        'device': _DEVICE,
        'dtype': _DTYPE,
        'batch_size': Option(int, None, 'most texts encoded together'),
        'batch_wait_ms': _BATCH_WAIT,
        'normalize': Option(str, None, 'normalise vectors', ('auto', 'true', 'false')),
        'trust_remote_code': _REMOTE_CODE,
    }))

rerank = register_engine(BuiltinEngine(
    name='rerank', kind='rerank', types=frozenset({ModelType.RERANK}),
    requires=('torch', 'sentence_transformers', 'fastapi', 'uvicorn'),
    options={
        'device': _DEVICE,
        'dtype': _DTYPE,
        'batch_size': Option(int, None, 'most pairs scored together'),
        'batch_wait_ms': _BATCH_WAIT,
        'trust_remote_code': _REMOTE_CODE,
    }))
