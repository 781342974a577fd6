"""Fetch a model from a hub into the lazyllm cache: locked, resumable, verified, atomic.

For one repo, under the cache (``LAZYLLM_MODEL_CACHE_DIR``):

- ``.locks/<org--name>.lock``: a file lock, so two processes pulling the same model end with
  one good copy (the second waits, then finds the finished folder);
- ``.partial/<source>/<org--name>/``: where files arrive. It survives a failed or killed
  pull, so the next pull keeps the finished files and resumes the unfinished one with Range;
- ``<org>/<name>/``: the model, made by one rename once every file is verified. A folder
  there is therefore always complete.

Sources are tried in the order ``LAZYLLM_MODEL_SOURCE`` (huggingface, default, or
modelscope) then the other one. Every failure becomes a DownloadError that says what to do.
"""
from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from .._config import config
from .._log import get_logger
from ..errors import ConfigError, DownloadError, LazyLLMError
from . import _hf, _ms
from ._cache import cache_dir, has_weights
from ._catalog import suggest
from ._verify import RemoteFile, select, verify

__all__ = ['SOURCES', 'sources', 'pull_repo', 'plan_files', 'token', 'explain']

SOURCES = ('huggingface', 'modelscope')


def sources(first: str | None = None) -> list[str]:
    first = (first or config['model_source'] or 'huggingface').lower()
    if first not in SOURCES:
        raise ConfigError(f'unknown model source {first!r}: set LAZYLLM_MODEL_SOURCE to '
                          'huggingface or modelscope.')
    return [first] + [s for s in SOURCES if s != first]


def token(source: str) -> str | None:
    own = 'HF_TOKEN' if source == 'huggingface' else 'MODELSCOPE_API_TOKEN'
    return config['model_source_token'] or os.environ.get(own) or None


def _endpoint(source: str) -> str:
    return _hf.endpoint() if source == 'huggingface' else _ms.endpoint()


def explain(source: str, repo: str, e: BaseException) -> DownloadError:
    """A foreign download error as a DownloadError that names the cause and the fix."""
    if isinstance(e, DownloadError):
        return e
    kinds = {c.__name__ for c in type(e).__mro__}
    status = getattr(getattr(e, 'response', None), 'status_code', None) or \
        getattr(e, 'status_code', None)
    where = f'{source} ({_endpoint(source)})'
    if isinstance(e, OSError) and e.errno == errno.ENOSPC:
        msg = (f'disk full while downloading {repo}: free space under {cache_dir()} or set '
               'LAZYLLM_MODEL_CACHE_DIR to a larger disk.')
    elif kinds & {'GatedRepoError', 'PermissionDeniedError'} or status in (401, 403):
        msg = (f'{repo} on {where} needs access (HTTP {status or "401"}, gated or private): '
               'accept its license on the hub, then set LAZYLLM_MODEL_SOURCE_TOKEN (or '
               'HF_TOKEN / MODELSCOPE_API_TOKEN) to a token that has access.')
    elif kinds & {'RepositoryNotFoundError', 'RevisionNotFoundError', 'NotExistError'} or \
            status == 404:
        hint = suggest(repo)
        msg = f'{repo} was not found on {where}.' + (
            f' Did you mean: {", ".join(hint)}?' if hint else ' Check the name (lazyllm models).')
    elif kinds & {'ConnectError', 'ConnectTimeout', 'TimeoutException', 'ConnectionError',
                  'NetworkError', 'gaierror', 'TimeoutError'}:
        var = 'HF_ENDPOINT' if source == 'huggingface' else 'MODELSCOPE_ENDPOINT'
        msg = (f'cannot reach {where} ({type(e).__name__}: {e}). Check the network, point '
               f'{var} at a mirror, switch LAZYLLM_MODEL_SOURCE, or copy the model into '
               'LAZYLLM_MODEL_PATH and run offline (HF_HUB_OFFLINE=1).')
    else:
        msg = f'downloading {repo} from {where} failed: {type(e).__name__}: {e}'
    return DownloadError(msg)


def _check_space(files: list[RemoteFile], partial: Path) -> None:
    need = sum(f.size or 0 for f in files if not (partial / f.name).is_file())
    free = shutil.disk_usage(partial).free
    if need > free:
        raise OSError(errno.ENOSPC, f'{need} bytes needed, {free} free')


def _corrupt_twice(repo: str, name: str, problem: str) -> DownloadError:
    return DownloadError(f'{repo}/{name} arrived corrupt twice ({problem}): the hub or a proxy '
                         'serves a bad copy; retry later or try the other LAZYLLM_MODEL_SOURCE.')


def plan_files(source: str, repo: str, revision: str | None, quantization: str | None):
    """List the repo (the network step, before anything is written): the files to take, a
    function that fetches some of them into a folder, and the commit listed."""
    return (_plan_hf if source == 'huggingface' else _plan_ms)(repo, revision, quantization)


def _plan_hf(repo: str, revision: str | None, quantization: str | None):
    tok = token('huggingface')
    commit, files = _hf.list_files(repo, revision, tok)

    def fetch(partial: Path, todo: list[RemoteFile]) -> None:
        _check_space(todo, partial)
        for f in todo:
            _fetch_verified(repo, commit, f, partial / f.name, tok)
    return select(files, quantization, repo), fetch, commit


def _fetch_verified(repo: str, commit: str, f: RemoteFile, dest: Path, tok: str | None) -> None:
    """Fetch one file until it verifies: a corrupt copy is deleted and fetched once more."""
    for _ in range(2):
        if not dest.is_file():
            _hf.fetch_file(repo, commit, f, dest, tok)
        problem = verify(dest, f)
        if problem is None:
            return
        get_logger().warning('%s/%s is corrupt (%s): fetching it again', repo, f.name, problem)
        dest.unlink()
    assert problem is not None      # the loop returns on the first copy that verifies
    raise _corrupt_twice(repo, f.name, problem)


def _plan_ms(repo: str, revision: str | None, quantization: str | None):
    """Same as ``_plan_hf`` through the modelscope client (whole batch, then verify)."""
    tok = token('modelscope')
    files = select(_ms.list_files(repo, revision, tok), quantization, repo)

    def fetch(partial: Path, todo: list[RemoteFile]) -> None:
        _check_space(todo, partial)
        for _ in range(2):
            _ms.fetch(repo, revision, partial, [f.name for f in todo], tok)
            bad = {f.name: p for f in todo if (p := verify(partial / f.name, f))}
            for name, problem in bad.items():
                get_logger().warning('%s/%s is corrupt (%s): fetching it again', repo, name,
                                     problem)
                (partial / name).unlink(missing_ok=True)
            if not bad:
                return
        raise _corrupt_twice(repo, *next(iter(bad.items())))
    return files, fetch, revision or 'master'


def _add_quantization(final: Path, partial: Path, todo: list[RemoteFile], fetch) -> Path:
    """Another quantization of a GGUF repo already in the cache: its files are fetched (and
    verified) aside, then each moved in with one rename, so the folder never holds half a
    file."""
    get_logger().info('adding %s to %s', ', '.join(f.name for f in todo), final)
    partial.mkdir(parents=True, exist_ok=True)
    fetch(partial, todo)
    for f in todo:
        os.replace(partial / f.name, final / f.name)
    shutil.rmtree(partial, ignore_errors=True)
    return final


def pull_repo(source: str, repo: str, revision: str | None = None,
              quantization: str | None = None) -> Path:
    """Download ``repo`` from ``source`` into the lazyllm cache; the finished folder. For a
    repo of GGUF files, ``quantization`` says which one (see ``select``)."""
    from filelock import FileLock
    try:
        files, fetch, _ = plan_files(source, repo, revision, quantization)
        root = cache_dir()
        final, key = root / repo, repo.replace('/', '--')
        (root / '.locks').mkdir(parents=True, exist_ok=True)
        with FileLock(str(root / '.locks' / f'{key}.lock')):
            partial = root / '.partial' / source / key
            if final.is_dir() and has_weights(final):
                todo = [f for f in files if f.name.endswith('.gguf')
                        and not (final / f.name).is_file()]
                if todo:
                    return _add_quantization(final, partial, todo, fetch)
                get_logger().info('%s was downloaded by another process: %s', repo, final)
                return final
            partial.mkdir(parents=True, exist_ok=True)
            get_logger().info('downloading %s from %s into %s', repo, source, final)
            fetch(partial, files)
            if not has_weights(partial):
                raise DownloadError(f'{repo} on {source} has no weight files (*.safetensors, '
                                    '*.bin…): not a model repo, or every weight file skipped.')
            if final.exists():   # a leftover without weights: replace it
                shutil.rmtree(final)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(partial, final)
            return final
    except LazyLLMError:
        raise
    except Exception as e:
        raise explain(source, repo, e) from e
