"""The model catalog: short names -> Hugging Face / ModelScope repos, type, size, format.

The built-in table is ``catalog.json`` in this package (data, not code: a new model is one
entry). A user file named by ``LAZYLLM_CATALOG`` (same JSON shape) is merged over it, so a
site can add its own names or point a name at a mirror repo without a release. Full repo ids
(``Qwen/Qwen2-1.5B-Instruct``) find their entry too. The type is a hint for before the
download; the folder's own files decide afterwards (``infer_type``).
"""
from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .._config import config, expand_user
from ..errors import ConfigError
from ._types import ModelType

__all__ = ['CatalogEntry', 'catalog', 'lookup', 'suggest', 'catalog_type', 'FORMATS']

FORMATS = ('safetensors', 'gguf')


@dataclass(frozen=True)
class CatalogEntry:
    name: str
    hf: str = ''
    ms: str = ''
    type: str = 'llm'
    params: str = ''
    context: int = 0
    format: str = 'safetensors'     # or 'gguf': the repo holds GGUF files (llama.cpp serves it)

    def repo(self, source: str) -> str:
        return self.ms if source == 'modelscope' else self.hf


def _entries(raw: dict, origin: str) -> dict[str, CatalogEntry]:
    try:
        entries = {name: CatalogEntry(name=name, **spec) for name, spec in raw.items()}
    except TypeError as e:
        raise ConfigError(f'{origin}: bad catalog entry ({e}); each entry takes hf, ms, type, '
                          'params, context, format.') from None
    for entry in entries.values():
        if entry.format not in FORMATS:
            raise ConfigError(f'{origin}: catalog entry {entry.name!r} has format '
                              f'{entry.format!r}: use one of {", ".join(FORMATS)}.')
    return entries


@lru_cache(maxsize=1)
def _builtin() -> dict[str, CatalogEntry]:
    path = Path(__file__).with_name('catalog.json')
    return _entries(json.loads(path.read_text(encoding='utf-8')), str(path))


def catalog() -> dict[str, CatalogEntry]:
    """The built-in catalog with ``LAZYLLM_CATALOG`` merged over it (read on every call)."""
    table = dict(_builtin())
    extra = config['catalog']
    if extra:
        path = expand_user(extra, 'LAZYLLM_CATALOG', error=ConfigError)
        try:
            raw = json.loads(path.read_text(encoding='utf-8'))
        except (OSError, ValueError) as e:
            raise ConfigError(f'LAZYLLM_CATALOG={extra} cannot be read as JSON ({e}): fix the '
                              'file or unset LAZYLLM_CATALOG.') from None
        table.update(_entries(raw, str(path)))
    return table


def lookup(name: str) -> CatalogEntry | None:
    """The entry for a short name or a repo id (case-insensitive), else None."""
    low = name.lower()
    for entry in catalog().values():
        if low in (entry.name.lower(), entry.hf.lower(), entry.ms.lower()):
            return entry
    return None


def suggest(name: str, n: int = 3) -> list[str]:
    """Close catalog names for an unknown ``name`` ("did you mean")."""
    names = {e.name.lower(): e.name for e in catalog().values()}
    names.update({e.hf.lower(): e.hf for e in catalog().values() if e.hf})
    low = name.lower().rsplit('/', 1)[-1]
    close = difflib.get_close_matches(low, list(names), n=n, cutoff=0.5)
    close += difflib.get_close_matches(name.lower(), list(names), n=n, cutoff=0.5)
    return list(dict.fromkeys(names[c] for c in close))[:n]


def catalog_type(name: str) -> ModelType | None:
    """The catalog's type hint for ``name``, or None when the catalog does not know it."""
    entry = lookup(name)
    return ModelType.parse(entry.type) if entry else None
