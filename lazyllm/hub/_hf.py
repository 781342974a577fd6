"""Hugging Face side of the hub: its cache, its file list, and one file's transfer.

``huggingface_hub`` is imported only inside these functions (``import lazyllm`` stays light).
The endpoint, cache and token are read from the environment at call time, not at import
time as ``huggingface_hub.constants`` does, so a changed ``HF_ENDPOINT`` is honoured.
We use the client's own HTTP transfer (``http_get``: auth headers, retries, progress bar,
Range resume within a call) but keep the partial file ourselves: huggingface_hub 2.4 (the
version checked) writes to a process-unique ``*.incomplete`` file that it deletes on failure,
so with its ``snapshot_download`` a killed pull would start over. Ours lives in the model's
persistent partial folder and is resumed with a Range request by the next attempt.
"""
from __future__ import annotations

import os
from pathlib import Path

from .._config import expand_user
from .._log import get_logger
from ..errors import ConfigError
from ._verify import RemoteFile

__all__ = ['endpoint', 'cached', 'list_files', 'fetch_file', 'fetch_head']


def endpoint() -> str:
    return os.environ.get('HF_ENDPOINT', 'https://huggingface.co').rstrip('/')


def _cache_dir() -> Path:
    if os.environ.get('HF_HUB_CACHE'):
        return expand_user(os.environ['HF_HUB_CACHE'], 'HF_HUB_CACHE', error=ConfigError)
    home = os.environ.get('HF_HOME', '~/.cache/huggingface')
    return expand_user(home, 'HF_HOME', error=ConfigError) / 'hub'


def cached(repo: str, revision: str | None) -> Path | None:
    """The snapshot folder of ``repo`` in the Hugging Face cache, or None (no network)."""
    if not (_cache_dir() / ('models--' + repo.replace('/', '--'))).is_dir():
        return None
    from huggingface_hub import snapshot_download
    try:
        return Path(snapshot_download(repo, revision=revision, cache_dir=_cache_dir(),
                                      local_files_only=True))
    except Exception as e:  # incomplete snapshot, unknown revision: not usable
        get_logger().debug('huggingface cache has no complete %s: %s', repo, e)
        return None


def list_files(repo: str, revision: str | None, token: str | None) -> tuple[str, list[RemoteFile]]:
    """The commit and files of ``repo`` with sizes and hashes (sha256 for LFS, git sha1)."""
    from huggingface_hub import HfApi
    info = HfApi(endpoint=endpoint()).model_info(repo, revision=revision, files_metadata=True,
                                                 token=token or None)
    files = [RemoteFile(s.rfilename, s.lfs.size if s.lfs else s.size,
                        sha256=s.lfs.sha256 if s.lfs else None,
                        git_sha1=None if s.lfs else s.blob_id)
             for s in info.siblings or []]
    return info.sha or revision or 'main', files


def fetch_file(repo: str, commit: str, file: RemoteFile, dest: Path, token: str | None) -> None:
    """Fetch one file to ``dest``, resuming ``dest.incomplete`` left by an earlier attempt."""
    from huggingface_hub import hf_hub_url
    from huggingface_hub.file_download import http_get
    from huggingface_hub.utils import build_hf_headers
    url = hf_hub_url(repo, file.name, revision=commit, endpoint=endpoint())
    part = dest.with_name(dest.name + '.incomplete')
    part.parent.mkdir(parents=True, exist_ok=True)
    resume = part.stat().st_size if part.exists() else 0
    if file.size is not None and resume > file.size:
        part.unlink()
        resume = 0
    if resume:
        get_logger().info('resuming %s at byte %d', file.name, resume)
    with part.open('ab') as out:
        http_get(url, out, resume_size=resume, headers=build_hf_headers(token=token or None),
                 expected_size=file.size, displayed_filename=file.name)
    os.replace(part, dest)


def fetch_head(repo: str, commit: str, name: str, size: int, token: str | None = None) -> bytes:
    """The first ``size`` bytes of one file of ``repo`` (one Range request)."""
    import httpx
    from huggingface_hub import hf_hub_url
    from huggingface_hub.utils import build_hf_headers
    url = hf_hub_url(repo, name, revision=commit, endpoint=endpoint())
    headers = {**build_hf_headers(token=token or None), 'Range': f'bytes=0-{size - 1}'}
    with httpx.stream('GET', url, headers=headers, follow_redirects=True, timeout=30) as r:
        r.raise_for_status()
        out = bytearray()
        for chunk in r.iter_bytes():
            out += chunk
            if len(out) >= size:     # a server that ignores Range: stop reading
                break
    return bytes(out[:size])
