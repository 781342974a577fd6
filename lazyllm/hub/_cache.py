"""The lazyllm model cache, and what makes a folder a model: its weight files.

The resolver looks models up here, the downloader and the built-in builder write them here,
and all three decide whether a folder is a finished model with :func:`has_weights`; so this
is the one module they all import, and none of them imports another for it.
"""
from __future__ import annotations

from pathlib import Path

from .._config import config, expand_user
from ..errors import ConfigError

__all__ = ['cache_dir', 'has_weights']

_WEIGHTS = ('*.safetensors', '*.bin', '*.pt', '*.pth', '*.gguf', '*.onnx', 'model.bin')


def has_weights(folder: Path) -> bool:
    """Whether ``folder`` holds weight files, at its top or one folder down (diffusers)."""
    return any(next(folder.glob(p), None) for p in _WEIGHTS) or \
        any(next(folder.glob('*/' + p), None) for p in ('*.safetensors', '*.bin'))


def cache_dir() -> Path:
    """``LAZYLLM_MODEL_CACHE_DIR``, default ``$LAZYLLM_HOME/models``."""
    if config['model_cache_dir']:
        return expand_user(config['model_cache_dir'], 'LAZYLLM_MODEL_CACHE_DIR', error=ConfigError)
    return config.home() / 'models'
