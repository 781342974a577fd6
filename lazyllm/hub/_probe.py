"""What a hub says about a model's size, without downloading its weights.

The planner must refuse a model that cannot fit before gigabytes arrive. A hub's file list
gives the size of every weight file (the download takes the same files: ``select``), and
config.json (a few KB) gives the layers and heads of the KV cache. For a repo of GGUF files,
which seldom has a config.json, the header at the start of the chosen file is read with one
Range request (its scalar keys come before the tensors; 8 MiB holds even a large vocabulary).
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

from ..errors import DownloadError, InputError, LazyLLMError
from . import _hf
from ._download import explain, plan_files, token
from ._gguf import is_model_file_name, read_header
from ._sizes import ModelSize, gguf_size, read_index, size_from
from ._types import infer_type

__all__ = ['remote_size']

_SMALL = ('config.json', 'config_sentence_transformers.json', 'modules.json',
          'model_index.json', 'model.safetensors.index.json')
_WEIGHTS = ('.safetensors', '.bin', '.pt', '.pth')
_GGUF_HEAD = 8 << 20


def remote_size(source: str, repo: str, revision: str | None = None,
                quantization: str | None = None) -> ModelSize:
    """The size of the model ``repo`` on ``source``; a DownloadError when the hub cannot say."""
    try:
        files, fetch, commit = plan_files(source, repo, revision, quantization)
        with tempfile.TemporaryDirectory(prefix='lazyllm-probe-') as tmp:
            folder = Path(tmp) / repo.rsplit('/', 1)[-1]     # the name hints the type
            folder.mkdir()
            fetch(folder, [f for f in files if f.name in _SMALL])
            ggufs = [f for f in files if f.name.endswith('.gguf') and is_model_file_name(f.name)]
            if ggufs and not (folder / 'config.json').is_file():
                return _gguf(source, repo, commit, ggufs, folder)
            weights = {f.name: f.size or 0 for f in files
                       if '/' not in f.name and f.name.endswith(_WEIGHTS)}
            config = json.loads((folder / 'config.json').read_text()) \
                if (folder / 'config.json').is_file() else {}
            return size_from(config, weights, infer_type(folder), index=read_index(folder),
                             source=f'{source} file list and config.json')
    except LazyLLMError:
        raise
    except Exception as e:
        raise explain(source, repo, e) from e


def _gguf(source: str, repo: str, commit: str, ggufs: list, folder: Path) -> ModelSize:
    stored = sum(f.size or 0 for f in ggufs)
    first = min(ggufs, key=lambda f: f.name)
    if source != 'huggingface':
        raise DownloadError(f'{repo} on {source}: the size of a GGUF model is read from its '
                            'header on Hugging Face only; pull it first (lazyllm models pull).')
    head = folder / 'head.gguf'
    head.write_bytes(_hf.fetch_head(repo, commit, first.name, _GGUF_HEAD, token(source)))
    try:
        return gguf_size(read_header(head), stored)
    except InputError as e:
        raise DownloadError(f'cannot read the header of {repo}/{first.name} from its first '
                            f'{_GGUF_HEAD >> 20} MiB: {e}') from None
