"""Downloads through the real huggingface_hub client from a local hub (tests/servers).

Each test starts with empty caches (the ``hub`` fixture); MiniLM is served as test/minilm.
"""
import hashlib
import json
import socket
import subprocess
import sys
import time

import pytest

from lazyllm.cli import main
from lazyllm.errors import DownloadError, ModelNotFoundError
from lazyllm.hub import resolve_model

from .conftest import REPO

WEIGHTS = 'model.safetensors'


def same_files(folder, reference):
    for ref in reference.rglob('*'):
        if ref.is_file():
            got = folder / ref.relative_to(reference)
            assert hashlib.sha256(got.read_bytes()).digest() == \
                hashlib.sha256(ref.read_bytes()).digest(), got
    return True


def test_pull_gives_a_folder_that_loads(hub, minilm_path, monkeypatch):
    folder = resolve_model(REPO)
    assert folder == (hub.cache / REPO).resolve()
    assert same_files(folder, minilm_path)
    assert not any((hub.cache / '.partial').rglob('*.*'))       # nothing half-done remains
    assert hub.count('GET', WEIGHTS) == 1
    hub.reset()
    assert resolve_model(REPO) == folder and hub.requests == []   # now a cache hit
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    from sentence_transformers import SentenceTransformer
    vec = SentenceTransformer(str(folder), device='cpu').encode('hello')
    assert vec.shape == (384,)


def test_cut_transfer_resumes_with_range(hub, minilm_path):
    hub.cut(WEIGHTS, after=30_000_000)
    folder = resolve_model(REPO)
    gets = hub.matching('GET', WEIGHTS)
    assert [g.range is None for g in gets] == [True, False]        # one resumed request
    size = (minilm_path / WEIGHTS).stat().st_size
    assert gets[1].sent < size - 5_000_000       # bytes kept on disk were not sent again
    assert same_files(folder, minilm_path)


def test_a_new_pull_resumes_what_a_killed_pull_left(hub, minilm_path):
    data = (minilm_path / WEIGHTS).read_bytes()
    partial = hub.cache / '.partial' / 'huggingface' / REPO.replace('/', '--')
    partial.mkdir(parents=True)
    (partial / f'{WEIGHTS}.incomplete').write_bytes(data[:40_000_000])
    (partial / 'vocab.txt').write_bytes((minilm_path / 'vocab.txt').read_bytes())
    folder = resolve_model(REPO)
    (get,) = hub.matching('GET', WEIGHTS)
    assert get.range == 'bytes=40000000-' and get.sent == len(data) - 40_000_000
    assert hub.count('GET', 'vocab.txt') == 0          # a finished, verified file is kept
    assert same_files(folder, minilm_path)


def test_corrupt_file_is_detected_and_fetched_again(hub, minilm_path, caplog):
    hub.corrupt(WEIGHTS)
    hub.corrupt('modules.json')          # a small (non-LFS) file: checked by its git sha1
    folder = resolve_model(REPO)
    assert hub.count('GET', WEIGHTS) == 2 and hub.count('GET', 'modules.json') == 2
    assert 'sha256 mismatch' in caplog.text and 'git sha1 mismatch' in caplog.text
    assert same_files(folder, minilm_path)


def test_corrupt_every_time_is_an_error(hub):
    hub.corrupt('config.json', times=None)
    hub.status(404, '/api/v1/')                  # not on ModelScope: no fallback there
    with pytest.raises(DownloadError, match='arrived corrupt twice'):
        resolve_model(REPO)
    assert not (hub.cache / REPO).exists()          # never taken for a model


def test_two_processes_pulling_end_with_one_good_copy(hub, minilm_path, monkeypatch):
    monkeypatch.setenv('LAZYLLM_LOG_LEVEL', 'info')
    hub.slow(0.03)               # ~3 s for the weights, so the two pulls overlap
    code = 'import sys; from lazyllm.hub import pull; print(pull(sys.argv[1]))'
    procs = [subprocess.Popen([sys.executable, '-c', code, REPO], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    paths = {o[0].strip().splitlines()[-1] for o in outs}
    assert paths == {str(hub.cache / REPO)}
    assert hub.count('GET', WEIGHTS) == 1          # the second waited, then reused it
    assert sum('downloaded by another process' in o[1] for o in outs) == 1
    assert same_files(hub.cache / REPO, minilm_path)


def test_gated_repo_needs_a_token(hub, monkeypatch):
    hub.require_token(REPO, 'hf_secret_value')
    hub.status(404, '/api/v1/')                  # not on ModelScope: no fallback there
    with pytest.raises(DownloadError, match='LAZYLLM_MODEL_SOURCE_TOKEN') as info:
        resolve_model(REPO)
    assert 'hf_secret_value' not in str(info.value)
    monkeypatch.setenv('LAZYLLM_MODEL_SOURCE_TOKEN', 'hf_secret_value')
    assert resolve_model(REPO).is_dir()


def test_not_on_the_hub_suggests_names(hub, tmp_path, monkeypatch):
    extra = tmp_path / 'cat.json'
    extra.write_text(json.dumps({'minilm-test': {'hf': REPO, 'type': 'embed'}}))
    monkeypatch.setenv('LAZYLLM_CATALOG', str(extra))
    with pytest.raises(DownloadError) as info:
        resolve_model('test/minilm-l6')
    text = str(info.value)
    assert 'was not found on huggingface' in text and 'Did you mean' in text
    assert REPO in text.split('Did you mean')[1]


def test_connection_refused_fails_fast(hub, monkeypatch):
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    monkeypatch.setenv('HF_ENDPOINT', f'http://127.0.0.1:{port}')
    monkeypatch.setenv('MODELSCOPE_ENDPOINT', f'http://127.0.0.1:{port}')
    start = time.monotonic()
    with pytest.raises(DownloadError) as info:
        resolve_model(REPO)
    assert time.monotonic() - start < 5
    text = str(info.value)
    assert f'127.0.0.1:{port}' in text and 'LAZYLLM_MODEL_SOURCE' in text
    assert 'HF_HUB_OFFLINE' in text and 'cannot reach modelscope' in text   # both were tried


def test_huggingface_cache_is_reused_without_a_request(hub, tmp_path):
    from huggingface_hub import snapshot_download
    snapshot_download(REPO, cache_dir=tmp_path / 'hf' / 'hub', endpoint=hub.url)
    hub.reset()
    folder = resolve_model(REPO)
    assert str(folder).startswith(str(tmp_path / 'hf' / 'hub'))
    assert hub.requests == [] and not (hub.cache / REPO).exists()


def test_modelscope_cache_is_reused(hub, tmp_path, minilm_path):
    folder = tmp_path / 'ms' / 'models' / REPO
    folder.mkdir(parents=True)
    (folder / WEIGHTS).symlink_to(minilm_path / WEIGHTS)
    assert resolve_model(REPO) == folder and hub.requests == []


def test_offline_mode_uses_caches_and_says_so(hub, monkeypatch):
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    with pytest.raises(ModelNotFoundError, match='offline mode is on'):
        resolve_model(REPO)
    assert hub.requests == []


def test_disk_full_says_so(hub, monkeypatch):
    import shutil
    monkeypatch.setattr(shutil, 'disk_usage', lambda p: shutil._ntuple_diskusage(1, 1, 0))
    with pytest.raises(DownloadError, match='disk full .* LAZYLLM_MODEL_CACHE_DIR'):
        resolve_model(REPO)
    assert hub.count('GET', WEIGHTS) == 0


def test_models_pull_command_prints_the_folder(hub, capsys):
    assert main(['models', 'pull', REPO, '--source', 'huggingface']) == 0
    assert capsys.readouterr().out.strip() == str((hub.cache / REPO).resolve())


def test_a_killed_pull_releases_its_lock_and_is_resumed(hub, minilm_path):
    hub.slow(0.1)                # ~9 s for the weights: time to kill it midway
    code = 'import sys; from lazyllm.hub import pull; print(pull(sys.argv[1]))'
    proc = subprocess.Popen([sys.executable, '-c', code, REPO], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    part = hub.cache / '.partial' / 'huggingface' / REPO.replace('/', '--') / \
        f'{WEIGHTS}.incomplete'
    deadline = time.monotonic() + 60
    while (not part.exists() or part.stat().st_size < 10_000_000) and \
            time.monotonic() < deadline:
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    kept = part.stat().st_size
    assert kept >= 10_000_000
    hub.slow(0)
    folder = resolve_model(REPO)                 # the dead process's lock does not block
    last = hub.matching('GET', WEIGHTS)[-1]
    assert last.range == f'bytes={kept}-'
    assert same_files(folder, minilm_path)
