"""ModelScope side of the hub: its cache, its file list and a download through its client.

``modelscope`` is imported only inside these functions and is optional (``pip install
modelscope``). Its endpoint, ``MODELSCOPE_ENDPOINT`` (or the older ``MODELSCOPE_DOMAIN``), is
read at every call and passed to its client (which would keep the first one it saw). Its
client verifies each file's SHA-256 and resumes its own partial files; we check the sizes it
listed. The cache is looked up without importing it (``MODELSCOPE_CACHE``, default
``~/.cache/modelscope/hub``; newer versions put models under ``models/``).
"""
from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

from .._config import expand_user
from ..errors import ConfigError, DownloadError
from ._verify import RemoteFile

__all__ = ['endpoint', 'cached', 'client', 'list_files', 'fetch']


def endpoint() -> str:
    url = os.environ.get('MODELSCOPE_ENDPOINT') or os.environ.get('MODELSCOPE_DOMAIN') or \
        'www.modelscope.cn'
    return url if url.startswith(('http://', 'https://')) else 'https://' + url


def cached(repo: str, has_weights) -> Path | None:
    root = expand_user(os.environ.get('MODELSCOPE_CACHE', '~/.cache/modelscope/hub'),
                       'MODELSCOPE_CACHE', error=ConfigError)
    return next((c for c in (root / 'models' / repo, root / repo)
                 if c.is_dir() and has_weights(c)), None)


def client():
    """modelscope's (HubApi, snapshot_download); DownloadError when it is not installed."""
    try:
        from modelscope.hub.api import HubApi
        from modelscope.hub.snapshot_download import snapshot_download
    except ImportError:
        raise DownloadError('the modelscope client is not installed: pip install modelscope '
                            "(or pip install 'lazyllm[hub]').") from None
    return HubApi, snapshot_download


def _reachable() -> None:
    """Raise ConnectionError fast when the endpoint does not answer: modelscope's client
    retries a failed listing with back-off (about 7 s) before it gives up."""
    url = urlsplit(endpoint())
    port = url.port or (443 if url.scheme == 'https' else 80)
    with socket.create_connection((url.hostname, port), timeout=5):
        pass


def list_files(repo: str, revision: str | None, token: str | None) -> list[RemoteFile]:
    HubApi, _ = client()
    _reachable()
    api = HubApi(endpoint=endpoint(), token=token, max_retries=1)   # fail fast when offline
    listed = api.get_model_files(repo, revision=revision or 'master', recursive=True)
    return [RemoteFile(f['Path'], f.get('Size')) for f in listed if f.get('Type') != 'tree']


def fetch(repo: str, revision: str | None, folder: Path, names: list[str],
          token: str | None) -> None:
    """Download the files ``names`` of ``repo`` into ``folder``."""
    _, snapshot_download = client()
    snapshot_download(repo, revision=revision or 'master', local_dir=str(folder),
                      allow_file_pattern=names, token=token, endpoint=endpoint())
