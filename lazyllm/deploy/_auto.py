"""``lazyllm.deploy.auto``: pick the engine for a model from its type and what is installed.

vLLM is chosen for LLMs when it is registered and installed (in its own interpreter,
``LAZYLLM_VLLM_PYTHON``, when set) and either a GPU is present or
``LAZYLLM_PREFER_VLLM`` is set; otherwise the built-in engine of the type serves it. A GGUF
model (a ``.gguf`` file, or a folder of them) is served by llama.cpp (``llamacpp``).
"""
from __future__ import annotations

import os
import sys

from .._config import config
from ..errors import DeployError
from ..hub import ModelType, holds_gguf
from ._engine import Engine, engines

__all__ = ['auto', 'AutoEngine', 'pick_engine']


class AutoEngine:
    """Marker for "choose for me"; resolved by ``pick_engine`` at start()."""
    name = 'auto'

    def __repr__(self) -> str:
        return '<engine auto>'


auto = AutoEngine()


def _has_gpu() -> bool:
    return os.path.exists('/dev/nvidia0') or bool(os.environ.get('CUDA_VISIBLE_DEVICES'))


def _installed(engine: Engine) -> bool:
    """Whether the engine's interpreter (its own venv for vLLM) has what it needs."""
    try:
        engine.check_installed(engine.default_python() or config['engine_python']
                               or sys.executable)
    except DeployError:
        return False
    return True


def pick_engine(model_type: ModelType, model: str | os.PathLike | None = None) -> Engine:
    """The engine for a model of ``model_type``; ``model`` (its file or folder) tells a GGUF
    model, which only an engine that ``reads_gguf`` serves (llama.cpp), from the others."""
    gguf = model is not None and holds_gguf(model)
    vllm = engines.get('vllm', None)
    if not gguf and model_type == ModelType.LLM and vllm is not None and \
            (_has_gpu() or os.environ.get('LAZYLLM_PREFER_VLLM')) and _installed(vllm):
        return vllm
    for engine in engines.values():
        if engine.name != 'vllm' and engine.serves(model_type) and engine.reads_gguf == gguf:
            return engine
    if gguf:
        raise DeployError(f'{model} is a GGUF model and no engine for GGUF serves '
                          f'{model_type.value} models: serve the Hugging Face folder of the '
                          'model instead.')
    raise DeployError(f'no engine serves {model_type.value} models yet: choose one with '
                      f'deploy_method(...) from {", ".join(sorted(engines))}.')
