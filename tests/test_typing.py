"""The package is typed: mypy finds no error in lazyllm/, and py.typed ships with it.

Users' type checkers read our annotations only when the installed package carries the PEP 561
marker ``py.typed``; the annotations are worth reading only if mypy (configured in
pyproject.toml, ``[tool.mypy]``) accepts them. Both are checked on the real tools: mypy run
the way CI and a developer run it, and a wheel built by pip.
"""
import importlib.util
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import lazyllm

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_reports_no_error_in_the_package(tmp_path):
    if importlib.util.find_spec('mypy') is None:
        pytest.skip('mypy is not installed: pip install -e ".[dev]" (the dev extra has it)')
    done = subprocess.run([sys.executable, '-m', 'mypy', '--cache-dir', str(tmp_path / 'cache')],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    errors = [line for line in done.stdout.splitlines() if ': error: ' in line]
    assert done.returncode == 0 and not errors, (
        f'mypy (pyproject.toml [tool.mypy]) exited {done.returncode} with '
        f'{len(errors)} error(s):\n{done.stdout[-6000:]}\n{done.stderr[-2000:]}')
    # every module of the package was checked, not a subset the config happened to name
    checked = re.search(r'no issues found in (\d+) source files', done.stdout)
    sources = list((ROOT / 'lazyllm').rglob('*.py'))
    assert checked and int(checked.group(1)) == len(sources), done.stdout


def test_mypy_reads_our_annotations(tmp_path):
    """The gate above is not vacuous: code that misuses a lazyllm type is reported."""
    if importlib.util.find_spec('mypy') is None:
        pytest.skip('mypy is not installed: pip install -e ".[dev]" (the dev extra has it)')
    bad = tmp_path / 'user_code.py'
    bad.write_text('from lazyllm.errors import InputError\nx: int = InputError("m")\n')
    done = subprocess.run([sys.executable, '-m', 'mypy', '--cache-dir', str(tmp_path / 'cache'),
                           str(bad)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 1 and 'Incompatible types in assignment' in done.stdout, \
        done.stdout + done.stderr


def test_py_typed_is_in_the_package():
    marker = Path(lazyllm.__file__).with_name('py.typed')
    assert marker.is_file(), f'{marker} is missing: type checkers would ignore our annotations'


def test_the_wheel_ships_py_typed(tmp_path):
    done = subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '-q', '-w',
                           str(tmp_path), str(ROOT)], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, (f'pip wheel failed (it needs the package registry for '
                                  f'hatchling):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}')
    wheel = next(tmp_path.glob('lazyllm_model_layer-*.whl'))
    with zipfile.ZipFile(wheel) as z:
        assert 'lazyllm/py.typed' in z.namelist()
