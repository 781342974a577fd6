"""What a hub says about a file, which files to take, and whether what arrived is right.

Sizes always, SHA-256 for LFS files (the hub publishes it), git blob SHA-1 for small files
(``blobId``): a truncated or corrupted file is caught before the folder is called a model.
"""
from __future__ import annotations

import fnmatch
import hashlib
from dataclasses import dataclass
from pathlib import Path

from ._gguf import choose_quantization, first_part, is_model_file_name, quantization_in_name

__all__ = ['RemoteFile', 'select', 'verify']

# other weight formats, skipped when the repo has safetensors (they hold the same weights)
OTHER_WEIGHTS = ('*.bin', '*.pt', '*.pth', '*.gguf', '*.ckpt', '*.h5', '*.msgpack', '*.ot',
                 '*.tflite', '*.onnx', '*.onnx_data', 'onnx/*', 'openvino/*', 'coreml/*')


@dataclass(frozen=True)
class RemoteFile:
    name: str
    size: int | None = None
    sha256: str | None = None
    git_sha1: str | None = None


def select(files: list[RemoteFile], quantization: str | None = None,
           repo: str = 'the repo') -> list[RemoteFile]:
    """The files of a repo worth downloading. Safetensors: the other weight formats are left
    out. GGUF only: one quantization (``quantization``, else the rule of ``pick_gguf``), all
    parts of it, and the repo's small files; vision projectors and the other quantizations
    (often a dozen files of gigabytes) are left out."""
    if any(f.name.endswith('.safetensors') for f in files):
        return [f for f in files if not any(fnmatch.fnmatch(f.name, p) for p in OTHER_WEIGHTS)]
    models = [f for f in files if '/' not in f.name and is_model_file_name(f.name)]
    if not models:
        return files
    by_quant = {quantization_in_name(f.name) or f.name: f for f in models}
    first = choose_quantization(by_quant, lambda f: f.size or 0, quantization, repo)
    return [f for f in files
            if not f.name.lower().endswith('.gguf') or first_part(f.name) == first.name]


def _digest(path: Path, h, prefix: bytes = b'') -> str:
    h.update(prefix)
    with path.open('rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            h.update(block)
    return h.hexdigest()


def verify(path: Path, file: RemoteFile) -> str | None:
    """None when ``path`` matches what the hub announced, else what is wrong."""
    if not path.is_file():
        return 'missing'
    size = path.stat().st_size
    if file.size is not None and size != file.size:
        return f'size {size} != {file.size}'
    if file.sha256 and _digest(path, hashlib.sha256()) != file.sha256:
        return 'sha256 mismatch'
    if file.git_sha1 and len(file.git_sha1) == 40 and \
            _digest(path, hashlib.sha1(), b'blob %d\0' % size) != file.git_sha1:
        return 'git sha1 mismatch'
    return None
