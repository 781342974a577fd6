"""``model_type(model)``: the one answer to "what kind of model is this?" before anything
serves it, for a folder, a catalog name, a hub id or an online model's name alike.

The most specific evidence wins: a local folder's own files (``config.json``'s
architectures, ``modules.json``, a cross-encoder's config …, see ``infer_type``; a GGUF
file's header), else the
catalog's entry for the name, else the hints in the name (``…-embedding…``, ``whisper``,
``-vl``), else ``llm``. Nothing is downloaded or opened beyond the folder pointed at.
"""
from __future__ import annotations

import os
from pathlib import Path

from ._catalog import catalog_type
from ._gguf import holds_gguf, pick_gguf, read_header
from ._types import ModelType, infer_type, type_from_name

__all__ = ['model_type']


def model_type(model: str | os.PathLike[str]) -> ModelType:
    if holds_gguf(model):              # the header says: an embedding architecture, or an LLM
        return ModelType.EMBED if read_header(pick_gguf(model)).embeds else ModelType.LLM
    if os.path.isdir(model):
        return infer_type(Path(model))
    name = os.fspath(model)
    return catalog_type(name) or type_from_name(name)
