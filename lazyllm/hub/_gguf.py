"""GGUF files: what a header says, and which file of a folder to serve.

A GGUF file (llama.cpp's format) carries its own metadata in a key-value header: the
architecture (``general.architecture``), what the file is (``general.type``: a model, a LoRA
adapter, a vision projector), the quantization (``general.file_type``), the context length
and the chat template. ``read_header`` reads the scalar keys only (arrays such as the
vocabulary are skipped, not loaded), so looking at a multi-GB file costs a few reads, and
needs no library.

A folder (or a hub repo) often holds several quantizations of one model
(``…-Q4_K_M.gguf``, ``…-Q8_0.gguf``): ``pick_gguf(folder, quantization)`` chooses one. With no
``quantization`` the choice is the only model file, else ``Q4_K_M`` (the usual default of
llama.cpp's users: a quarter of float16's size, close to its quality), else the smallest.
A download from a hub applies the same rule to the repo's listing (``choose_quantization``),
so only the chosen file (all parts of it, when it is split) is fetched.
"""
from __future__ import annotations

import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Callable, TypeVar

from ..errors import InputError, ModelNotFoundError

__all__ = ['GGUFHeader', 'read_header', 'is_gguf', 'holds_gguf', 'gguf_models', 'pick_gguf',
           'gguf_quantizations', 'quantization_in_name', 'is_model_file_name', 'first_part',
           'choose_quantization', 'normal_quantization', 'DEFAULT_QUANTIZATION']

MAGIC = b'GGUF'
DEFAULT_QUANTIZATION = 'Q4_K_M'

# value types of the GGUF spec: type id -> struct format of one scalar ('' = string)
_SCALARS = {0: '<B', 1: '<b', 2: '<H', 3: '<h', 4: '<I', 5: '<i', 6: '<f', 7: '<?', 10: '<Q',
            11: '<q', 12: '<d'}
_STRING, _ARRAY = 8, 9

# general.file_type (llama.cpp's llama_ftype) -> the name quantizations are known by
FILE_TYPES = {0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 7: 'Q8_0', 8: 'Q5_0', 9: 'Q5_1',
              10: 'Q2_K', 11: 'Q3_K_S', 12: 'Q3_K_M', 13: 'Q3_K_L', 14: 'Q4_K_S', 15: 'Q4_K_M',
              16: 'Q5_K_S', 17: 'Q5_K_M', 18: 'Q6_K', 19: 'IQ2_XXS', 20: 'IQ2_XS', 21: 'Q2_K_S',
              22: 'IQ3_XS', 23: 'IQ3_XXS', 24: 'IQ1_S', 25: 'IQ4_NL', 26: 'IQ3_S', 27: 'IQ3_M',
              28: 'IQ2_S', 29: 'IQ2_M', 30: 'IQ4_XS', 31: 'IQ1_M', 32: 'BF16', 36: 'TQ1_0',
              37: 'TQ2_0', 38: 'MXFP4'}

# architectures that embed rather than generate (llama.cpp serves them with --embeddings)
_EMBED_ARCHS = ('bert', 'nomic-bert', 'nomic-bert-moe', 'jina-bert-v2', 'jina-bert-v3',
                't5encoder', 'modern-bert', 'neo-bert', 'gemma-embedding')


@dataclass(frozen=True)
class GGUFHeader:
    """The scalar metadata of one GGUF file (``meta``: every scalar key, e.g.
    ``general.name``, ``llama.context_length``)."""
    path: Path
    version: int
    meta: dict

    @property
    def architecture(self) -> str:
        return str(self.meta.get('general.architecture', ''))

    @property
    def kind(self) -> str:
        """``model``, ``adapter`` (a LoRA) or ``mmproj`` (a vision projector)."""
        kind = str(self.meta.get('general.type', 'model'))
        return 'mmproj' if kind == 'clip' or 'clip.has_vision_encoder' in self.meta else kind

    @property
    def embeds(self) -> bool:
        return self.architecture in _EMBED_ARCHS or \
            f'{self.architecture}.pooling_type' in self.meta

    @property
    def quantization(self) -> str:
        """``Q4_K_M``, ``Q8_0``, ``F16``… ('' when the header does not say)."""
        code = self.meta.get('general.file_type')
        return FILE_TYPES.get(code, str(code)) if code is not None else ''

    @property
    def context_length(self) -> int | None:
        value = self.meta.get(f'{self.architecture}.context_length')
        return value if isinstance(value, int) and value > 0 else None


def is_gguf(path: str | Path) -> bool:
    """Whether ``path`` is a file that starts like a GGUF file."""
    try:
        with open(path, 'rb') as f:
            return f.read(4) == MAGIC
    except OSError:
        return False


def holds_gguf(model: str | os.PathLike) -> bool:
    """Whether ``model`` is a GGUF model: a GGUF file, or a folder of GGUF files with no
    ``config.json`` (a Hugging Face folder that also ships a GGUF is served as safetensors)."""
    model = Path(model)
    if model.is_file():      # a damaged .gguf is one too: reading its header says what is wrong
        return model.suffix.lower() == '.gguf' or is_gguf(model)
    return model.is_dir() and not (model / 'config.json').exists() and \
        next(model.glob('*.gguf'), None) is not None


def _read(f: BinaryIO, fmt: str) -> Any:
    size = struct.calcsize(fmt)
    data = f.read(size)
    if len(data) != size:
        raise EOFError
    return struct.unpack(fmt, data)[0]


def _string(f: BinaryIO) -> str:
    n = _read(f, '<Q')
    data = f.read(n)
    if len(data) != n:
        raise EOFError
    return data.decode('utf-8', errors='replace')


def _skip_array(f: BinaryIO) -> None:
    item, count = _read(f, '<I'), _read(f, '<Q')
    if item in _SCALARS:
        f.seek(struct.calcsize(_SCALARS[item]) * count, 1)
    elif item == _STRING:
        for _ in range(count):
            f.seek(_read(f, '<Q'), 1)
    elif item == _ARRAY:
        for _ in range(count):
            _skip_array(f)
    else:
        raise ValueError(f'unknown array item type {item}')


def read_header(path: str | os.PathLike) -> GGUFHeader:
    """The header of the GGUF file ``path``; an InputError that says what is wrong when the
    file is not GGUF, or is cut short."""
    path = Path(path)
    try:
        with open(path, 'rb') as f:
            if f.read(4) != MAGIC:
                raise InputError(f'{path} is not a GGUF file (it does not start with "GGUF"): '
                                 'pass a .gguf model file, or a folder of a safetensors model '
                                 'to serve with another engine.')
            version, _tensors, count = _read(f, '<I'), _read(f, '<Q'), _read(f, '<Q')
            meta: dict = {}
            for _ in range(count):
                key, kind = _string(f), _read(f, '<I')
                if kind in _SCALARS:
                    meta[key] = _read(f, _SCALARS[kind])
                elif kind == _STRING:
                    meta[key] = _string(f)
                elif kind == _ARRAY:
                    _skip_array(f)
                else:
                    raise ValueError(f'unknown value type {kind} of {key}')
    except (EOFError, ValueError, struct.error) as e:
        raise InputError(f'{path} is a damaged GGUF file ({e or "it ends inside its header"}): '
                         'download or convert it again.') from None
    except OSError as e:
        raise ModelNotFoundError(f'cannot read {path}: {e.strerror or e}.') from None
    return GGUFHeader(path, version, meta)


def gguf_models(folder: str | os.PathLike) -> list[Path]:
    """The GGUF model files of ``folder`` (adapters and vision projectors left out), by
    name; split files (``-00001-of-00003.gguf``) by their first part."""
    # llama.cpp opens the later parts of a split file itself
    return [path for path in sorted(Path(folder).glob('*.gguf'))
            if is_model_file_name(path.name) and read_header(path).kind == 'model']


_QUANT_IN_NAME = re.compile(
    r'(?:^|[-_.])((?:I?Q\d[A-Z0-9_]*?|BF16|FP?16|FP?32)(?:_[SMLX]{1,2})?)(?:[-.]|$)', re.I)
_SPLIT_PART = re.compile(r'-(\d+)-of-(\d+)(\.gguf)$', re.I)


def quantization_in_name(name: str) -> str:
    """The quantization a GGUF file's name says (``…-Q4_K_M.gguf``, ``…-q8_0-00001-of-00002
    .gguf`` -> ``Q4_K_M``, ``Q8_0``), else ''."""
    stem = _SPLIT_PART.sub('', name.rsplit('/', 1)[-1])
    stem = stem[:-5] if stem.lower().endswith('.gguf') else stem
    m = _QUANT_IN_NAME.search(stem)
    return normal_quantization(m.group(1)) if m else ''


def normal_quantization(quantization: str) -> str:
    """``q4_k_m`` -> ``Q4_K_M``; ``fp16`` (as some repos spell it) -> ``F16``."""
    q = quantization.upper()
    return {'FP16': 'F16', 'FP32': 'F32'}.get(q, q)


def first_part(name: str) -> str:
    """The first part of a split GGUF file (``…-00002-of-00003.gguf`` ->
    ``…-00001-of-00003.gguf``); any other name as it is."""
    m = _SPLIT_PART.search(name)
    return name if m is None else f'{name[:m.start()]}-{"1".zfill(len(m[1]))}-of-{m[2]}{m[3]}'


def is_model_file_name(name: str) -> bool:
    """Whether a file named ``name`` is (the first part of) a GGUF model, as far as a name
    tells: not a vision projector, not a later part of a split file."""
    lower = name.lower()
    return lower.endswith('.gguf') and 'mmproj' not in lower and first_part(name) == name


def _quant_of(path: Path) -> str:
    """The quantization a file's name says, else its header's."""
    return quantization_in_name(path.name) or normal_quantization(read_header(path).quantization)


T = TypeVar('T')


def choose_quantization(quants: dict[str, T], size: Callable[[T], int],
                        quantization: str | None, where: object) -> T:
    """One of ``quants`` (quantization name -> file(s)) by the rule of the module docstring;
    an InputError names the quantizations there are. Used for a folder and for a hub repo's
    listing alike, so a download takes the file a deployment would pick."""
    if quantization:
        found = quants.get(normal_quantization(quantization))
        if found is None:
            raise InputError(f'{where} has no {quantization} file; its quantizations: '
                             f'{", ".join(sorted(quants))}. Pass one of them as quantization=.')
        return found
    if len(quants) == 1:
        return next(iter(quants.values()))
    return quants.get(DEFAULT_QUANTIZATION) or min(quants.values(), key=size)


def gguf_quantizations(folder: str | os.PathLike) -> dict[str, Path]:
    """The GGUF model files of ``folder`` by quantization name (``Q4_K_M`` -> its path)."""
    return {_quant_of(p): p for p in gguf_models(folder)}


def pick_gguf(model: str | os.PathLike, quantization: str | None = None) -> Path:
    """The GGUF file to serve for ``model`` (a .gguf file, or a folder holding some): see
    the module docstring. An InputError names the quantizations there are."""
    model = Path(model)
    if model.is_file():
        read_header(model)                 # a damaged file: refused before any launch
        if quantization and _quant_of(model) != normal_quantization(quantization):
            raise InputError(f'{model.name} is {_quant_of(model) or "of unknown quantization"}, '
                             f'not {quantization}: drop quantization= or pass the folder that '
                             'holds the other files.')
        return model
    quants = gguf_quantizations(model) if model.is_dir() else {}
    if not quants:
        raise ModelNotFoundError(f'{model} holds no GGUF model file (*.gguf): serve a GGUF '
                                 'file or folder with this engine, or the safetensors folder '
                                 'with lazyllm.deploy.transformers or vllm.')
    return choose_quantization(quants, lambda p: p.stat().st_size, quantization, model)
