"""Where a model's weights are: from a name or path to a folder.

Order, each step logged at debug level:
1. an existing path (absolute, ``./``, ``../``, ``~``);
2. a folder of that name under a ``LAZYLLM_MODEL_PATH`` root (colon-separated, read-only);
   for ``org/name`` both ``root/org/name`` and ``root/name`` are tried;
3. the lazyllm cache (``LAZYLLM_MODEL_CACHE_DIR``, default ``$LAZYLLM_HOME/models``).
Downloads from a hub come later; until then a name found nowhere is a ModelNotFoundError
that lists every place looked at.
"""
from __future__ import annotations

import os
from pathlib import Path

from .._config import config
from .._log import get_logger
from ..errors import InputError, ModelNotFoundError

__all__ = ['resolve_model', 'has_weights']

config.add('model_path', '', str, 'colon-separated folders holding model folders (read-only)')
config.add('model_cache_dir', '', str,
           'where downloaded models live (default: $LAZYLLM_HOME/models)')

_WEIGHTS = ('*.safetensors', '*.bin', '*.pt', '*.pth', '*.gguf', '*.onnx', 'model.bin')


def has_weights(folder: Path) -> bool:
    return any(next(folder.glob(p), None) for p in _WEIGHTS) or \
        any(next(folder.glob('*/' + p), None) for p in ('*.safetensors', '*.bin'))


def _cache_dir() -> Path:
    return Path(config['model_cache_dir'] or config.home() / 'models').expanduser()


def _candidates(name: str) -> list[Path]:
    roots = [Path(r).expanduser() for r in config['model_path'].split(os.pathsep) if r]
    roots.append(_cache_dir())
    tails = [name] + ([name.rsplit('/', 1)[1]] if '/' in name else [])
    return [root / tail for root in roots for tail in tails]


def resolve_model(name: str | os.PathLike) -> Path:
    """The folder holding the weights of ``name``; raises ModelNotFoundError."""
    if not name or not isinstance(name, (str, os.PathLike)):
        raise InputError('a model name or path is required, e.g. '
                         "TrainableModule('/models/SmolLM2-135M-Instruct').")
    log = get_logger()
    text = os.fspath(name)
    direct = Path(text).expanduser()
    looked: list[Path] = []
    is_path = direct.is_absolute() or text.startswith(('./', '../', '~')) or direct.exists()
    for candidate in ([direct] if is_path else []) + _candidates(text):
        looked.append(candidate)
        if candidate.is_dir():
            if not has_weights(candidate):
                raise ModelNotFoundError(
                    f'{candidate} has no model weights (no *.safetensors, *.bin, *.gguf…): '
                    'point to the folder that holds the weight files.')
            log.debug('model %s resolved to %s', text, candidate)
            return candidate.resolve()
        log.debug('model %s: not at %s', text, candidate)
    places = '\n  '.join(str(p) for p in looked)
    raise ModelNotFoundError(
        f'model {text!r} was not found. Looked at:\n  {places}\nPass the folder path, or add '
        'the folder that contains it to LAZYLLM_MODEL_PATH (downloading by name from a hub '
        'is not available yet).')
