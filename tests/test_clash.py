"""The name clash with PyPI's LazyLLM (distribution `lazyllm`) is detected and explained.

The main tests install the real other distribution (its wheel, `--no-deps`) and a wheel of this
package, built from this checkout, into one clean scratch venv, then import lazyllm in a fresh
interpreter there. The venv is made once for the module; each test sets the installed state it
needs with pip. The package registry must be reachable: when it is not, the fixture fails and
says so (nothing here is skipped).
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lazyllm import _clash
from lazyllm._version import __version__

ROOT = Path(__file__).resolve().parents[1]
OTHER = 'lazyllm==1.4.0'  # PyPI LazyLLM, pinned so the test sees the same files every run
OTHER_VERSION = '1.4.0'
FIX = 'pip uninstall -y lazyllm lazyllm-model-layer'
IMPORT = 'import lazyllm, lazyllm.errors; print(lazyllm.__version__)'


def _env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ('PYTHONPATH', 'PYTHONWARNINGS', 'PYTHONSTARTUP', 'VIRTUAL_ENV')}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK='1', **extra)
    return env


def _run(args, what, cwd, **env):
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd,
                          env=_env(**env), timeout=600)
    if done.returncode != 0:
        pytest.fail(f'{what} failed (exit {done.returncode}); this test needs the package '
                    f'registry to be reachable by pip.\n$ {" ".join(map(str, args))}\n'
                    f'{done.stdout[-3000:]}\n{done.stderr[-3000:]}', pytrace=False)
    return done


class Venv:
    """A clean scratch venv with our wheel and the other distribution's wheel at hand."""

    def __init__(self, base: Path):
        self.base = base
        _run([sys.executable, '-m', 'venv', base / 'venv'], 'creating a venv', base)
        self.python = base / 'venv' / 'bin' / 'python'
        self.state = None  # the wheels installed, in order, when known
        dist = base / 'dist'
        self.pip('wheel', '--no-deps', '-w', dist, ROOT, what='building our wheel')
        self.pip('download', '--no-deps', '-d', dist, OTHER, what=f'downloading {OTHER}')
        self.ours = next(dist.glob('lazyllm_model_layer-*.whl'))
        self.theirs = next(dist.glob(f'lazyllm-{OTHER_VERSION}-*.whl'))
        self.site = Path(self.py('import sysconfig; print(sysconfig.get_path("purelib"))',
                                 cwd=base).stdout.strip())

    def pip(self, *args, what):
        return _run([self.python, '-m', 'pip', *args], what, self.base)

    def only(self, *wheels):
        """Uninstall both distributions, then install `wheels` in this order (skipped when
        the previous test left exactly that state: LazyLLM's wheel has ~1000 files)."""
        if self.state == wheels:
            return
        self.state = None
        self.pip('uninstall', '-y', 'lazyllm', 'lazyllm-model-layer', what='uninstalling')
        for wheel in wheels:
            self.pip('install', '--no-deps', '--no-compile', wheel,
                     what=f'installing {wheel.name}')
        self.state = wheels

    def py(self, code, *options, cwd=None, check=True):
        done = subprocess.run([str(self.python), *options, '-c', code], capture_output=True,
                              text=True, cwd=cwd or self.base, env=_env(), timeout=120)
        if check:
            assert done.returncode == 0, done.stderr
        return done


@pytest.fixture(scope='module')
def venv(tmp_path_factory):
    return Venv(tmp_path_factory.mktemp('clash'))


def test_clean_install_is_quiet(venv):
    venv.only(venv.ours)
    done = venv.py(IMPORT + '; from lazyllm import _clash; print(_clash.report())', '-W',
                   'default')
    assert done.stdout.split() == [__version__, 'None']
    assert done.stderr == ''


def test_other_distribution_in_the_same_folder_warns_once_with_the_fix(venv):
    venv.only(venv.theirs, venv.ours)  # ours last: our __init__.py is the one that runs
    done = venv.py(IMPORT + '; import lazyllm.cli, lazyllm.module; import lazyllm')
    assert done.stdout.split() == [__version__]
    warning = done.stderr
    assert warning.count('InstallClashWarning') == 1, warning
    assert f'{venv.site}/lazyllm-{OTHER_VERSION}.dist-info' in warning
    assert f'LazyLLM {OTHER_VERSION} is installed in the same folder' in warning
    assert f'lazyllm-model-layer {__version__}' in warning
    assert FIX in warning
    files = int(re.search(r'and (\d+) of its files are in', warning)[1])
    assert files > 500  # LazyLLM's own modules, still beside ours
    # The same text is what `report()` returns (and what `lazyllm --version` prints).
    text = venv.py('import warnings; warnings.simplefilter("ignore"); from lazyllm import '
                   '_clash; print(_clash.report())').stdout.strip()
    assert text in warning and text.startswith('Two distributions named `lazyllm`')


def test_warning_never_breaks_import_even_when_warnings_are_errors(venv):
    venv.only(venv.theirs, venv.ours)
    done = venv.py(IMPORT, '-W', 'error')
    assert done.stdout.split() == [__version__]
    assert done.stderr.startswith('InstallClashWarning: Two distributions named')
    assert FIX in done.stderr


def test_the_fix_the_message_names_works(venv):
    venv.only(venv.theirs, venv.ours)
    warning = venv.py(IMPORT).stderr
    named = re.search(r'`(pip uninstall -y [^`]+)`', warning)
    assert named, f'the warning names no uninstall command:\n{warning}'
    command = named[1].split()
    venv.state = None
    venv.pip(*command[1:], what=command)
    venv.pip('install', '--no-deps', venv.ours, what='reinstalling ours')
    done = venv.py(IMPORT)
    assert done.stdout.split() == [__version__] and done.stderr == ''
    assert not (venv.site / 'lazyllm' / 'cpp.py').exists()  # none of LazyLLM's files left


def test_other_distribution_elsewhere_on_sys_path_warns(venv):
    # LazyLLM installed in the venv; ours imported from this checkout (first on sys.path),
    # as after `pip install -e .` followed by `pip install lazyllm`.
    venv.only(venv.theirs)
    done = venv.py(IMPORT, cwd=ROOT)
    assert done.stdout.split() == [__version__]
    assert f'LazyLLM {OTHER_VERSION} is also installed at {venv.site}' in done.stderr
    assert 'comes first on sys.path' in done.stderr and FIX in done.stderr


# The scan itself, on folders laid out by hand: the metadata spellings pip and setuptools use.

def _package(site: Path) -> Path:
    (site / 'lazyllm').mkdir(parents=True)
    (site / 'lazyllm' / '__init__.py').write_text('')
    (site / 'lazyllm' / 'configs.py').write_text('')
    ours = site / f'lazyllm_model_layer-{__version__}.dist-info'
    ours.mkdir()
    (ours / 'RECORD').write_text('lazyllm/__init__.py,sha256=x,0\n')
    return site / 'lazyllm'


def test_scan_counts_the_other_files_in_our_folder(tmp_path):
    package = _package(tmp_path / 'site')
    meta = tmp_path / 'site' / 'LazyLLM-0.5.1.dist-info'
    meta.mkdir()
    (meta / 'RECORD').write_text('"lazyllm/configs.py",sha256=a,1\nlazyllm/__init__.py,,\n'
                                 'lazyllm/gone.py,,\n../../../bin/lazyllm,,\n'
                                 'LazyLLM-0.5.1.dist-info/RECORD,,\n')
    [found] = _clash._scan(str(package), [str(tmp_path / 'site'), str(tmp_path / 'nowhere')])
    assert (found.version, found.same_folder, found.files_here) == ('0.5.1', True, 2)
    text = _clash._message([found], str(package), __version__)
    assert f'LazyLLM 0.5.1 is installed in the same folder ({meta})' in text
    assert f'2 of its files are in {package}' in text and text.endswith(_clash.FIX)


def test_scan_reads_setuptools_metadata_and_survives_an_unreadable_record(tmp_path):
    package = _package(tmp_path / 'site')
    egg = tmp_path / 'site' / 'lazyllm-0.2-py3.11.egg-info'
    egg.mkdir()
    (egg / 'installed-files.txt').write_text('../lazyllm/__init__.py\n../lazyllm/x.py\n')
    broken = tmp_path / 'other' / 'lazyllm-0.3.dist-info'
    (broken / 'RECORD').mkdir(parents=True)  # a folder where a file should be
    found = _clash._scan(str(package), [str(tmp_path / 'site'), str(tmp_path / 'other')])
    assert [(f.version, f.same_folder, f.files_here) for f in found] == [
        ('0.2', True, 1), ('0.3', False, 0)]


def test_scan_ignores_our_own_metadata_and_is_cached(tmp_path):
    package = _package(tmp_path / 'site')
    assert _clash._scan(str(package), [str(tmp_path / 'site')]) == []
    assert _clash.report() is None  # this environment (the dev venv) is clean
    _clash.report()
    assert _clash.report.cache_info().hits >= 1
