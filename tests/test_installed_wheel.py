"""What a user who installed the wheel gets, away from this checkout: ``lazyllm models pull
smollm2`` builds the default model into an empty cache, then the main example runs on it.

A wheel of this checkout is built and installed (``--no-deps``) into a scratch venv; the
libraries it needs are this venv's (its site-packages folder is added as a plain path, so
its ``.pth`` files, the editable install of this checkout among them, are not read). The
commands run from a folder outside the checkout, so nothing can be imported from it: the
test asserts that ``lazyllm`` is the installed wheel's. The registry must be reachable to
build the wheel (pip fetches the build backend); when it is not, the test fails and says so.
"""
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(args, what, **kw):
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kw)
    if done.returncode != 0:
        pytest.fail(f'{what} failed (exit {done.returncode})\n$ {" ".join(map(str, args))}\n'
                    f'{done.stdout[-3000:]}\n{done.stderr[-3000:]}', pytrace=False)
    return done


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    """(scratch venv's bin folder, environment for its commands, a folder to run in)."""
    pytest.importorskip('torch', reason="the default model needs the 'local' extra")
    base = tmp_path_factory.mktemp('wheel')
    _run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--quiet', '-w', base / 'dist',
          ROOT], 'building the wheel (pip fetches the build backend from the registry)',
         timeout=600)
    wheel = next((base / 'dist').glob('lazyllm_model_layer-*.whl'))
    _run([sys.executable, '-m', 'venv', base / 'venv'], 'creating a venv', timeout=300)
    bin_dir = base / 'venv' / 'bin'
    _run([bin_dir / 'python', '-m', 'pip', 'install', '--quiet', '--no-deps',
          '--disable-pip-version-check', wheel], 'installing the wheel', timeout=300)
    site = _run([bin_dir / 'python', '-c',
                 'import sysconfig; print(sysconfig.get_path("purelib"))'],
                'reading the venv', timeout=60).stdout.strip()
    Path(site, 'lazyllm-test-deps.pth').write_text(sysconfig.get_path('purelib') + '\n')
    # the main example's default path: the transformers engine (no llama.cpp server)
    env = {k: v for k, v in os.environ.items()
           if k not in ('PYTHONPATH', 'VIRTUAL_ENV', 'LAZYLLM_LLAMACPP_SERVER')}
    env.update(LAZYLLM_HOME=str(base / 'home'), LAZYLLM_MODEL_CACHE_DIR=str(base / 'cache'),
               PATH=f'{bin_dir}{os.pathsep}{env["PATH"]}')
    elsewhere = base / 'elsewhere'
    elsewhere.mkdir()
    return bin_dir, env, elsewhere


def test_lazyllm_is_the_installed_wheel(installed):
    bin_dir, env, elsewhere = installed
    out = _run([bin_dir / 'python', '-c', 'import lazyllm; print(lazyllm.__file__)'],
               'importing lazyllm', env=env, cwd=elsewhere, timeout=120)
    assert Path(out.stdout.strip()).is_relative_to(bin_dir.parent), out.stdout


def test_pull_on_an_empty_cache_then_the_main_example(installed):
    bin_dir, env, elsewhere = installed
    cache = Path(env['LAZYLLM_MODEL_CACHE_DIR'])
    assert not cache.exists()
    pulled = _run([bin_dir / 'lazyllm', 'models', 'pull', 'smollm2'], 'lazyllm models pull',
                  env=env, cwd=elsewhere, timeout=900)
    folder = Path(pulled.stdout.strip())
    assert folder.is_relative_to(cache) and (folder / 'config.json').is_file(), pulled.stdout
    assert (folder / 'model.safetensors').stat().st_size > 100_000_000
    example = elsewhere / 'chat_local.py'
    shutil.copy(ROOT / 'examples' / 'chat_local.py', example)
    out = _run([bin_dir / 'python', example], 'the main example', env=env, cwd=elsewhere,
               timeout=600)
    assert 'geography: The capital of France is Paris.' in out.stdout
    assert out.stdout.split('poet:', 1)[1].strip()
    assert 'building' not in out.stderr      # start() found the pulled folder
