"""Detect the PyPI LazyLLM distribution installed beside this one, and say how to fix it.

Two distributions use the import name ``lazyllm``: this one (``lazyllm-model-layer``) and
LazyLLM on PyPI (distribution ``lazyllm``). Both write ``site-packages/lazyllm/`` and the
``lazyllm`` command, and pip overwrites files of one with the other without a word.
Uninstalling either one then deletes files the other needs (``lazyllm/__init__.py`` among
them), which shows up later as ``module 'lazyllm' has no attribute '__version__'``.

What this module can see, and what it cannot: it runs only when *our* ``lazyllm/__init__.py``
is the one being imported, so it catches

* the other distribution installed into the same package folder (its ``.dist-info`` sits next
  to our ``lazyllm/`` folder and its RECORD lists files in it), and
* the other distribution installed elsewhere on ``sys.path`` (for example beside an editable
  install of ours), where ``import lazyllm`` gives one or the other depending on path order.

When the other distribution was installed last, its ``__init__.py`` replaced ours and none of
our code runs; after an uninstall, ``lazyllm/__init__.py`` is gone. Only the README can warn
about those; the fix is the same.

The check lists the directories on ``sys.path`` and reads the other distribution's RECORD only
when its ``.dist-info`` exists, so a clean ``import lazyllm`` pays for a few directory
listings and nothing more (no ``importlib.metadata``, which costs more than the rest of the
import). The answer is computed once per process.
"""
from __future__ import annotations

import functools
import os
import re
import sys
import warnings

__all__ = ['InstallClashWarning', 'report', 'warn_on_import']

warned = False   # set once ``warn_on_import`` has said it (``lazyllm --version`` then stays quiet)

OTHER_DISTRIBUTION = 'lazyllm'
OUR_DISTRIBUTION = 'lazyllm-model-layer'
FIX = (f'Fix: `pip uninstall -y {OTHER_DISTRIBUTION} {OUR_DISTRIBUTION}`, then install only '
       f'the one you want (`pip install {OUR_DISTRIBUTION}`, or `pip install -e .` in a '
       f'checkout of it), or give each its own virtual environment.')

# The other distribution's metadata folder: `lazyllm-1.4.0.dist-info` (pip, any case) or
# `lazyllm-1.4.0-py3.11.egg-info` (old setuptools). Ours is `lazyllm_model_layer-…`: no match.
_METADATA = re.compile(r'^lazyllm-(?P<version>[^-]+)(?:-py[\d.]+)?\.(?:dist|egg)-info$',
                       re.IGNORECASE)


class InstallClashWarning(UserWarning):
    """``import lazyllm`` found the PyPI LazyLLM distribution in the same environment.

    A warning rather than a log line: it reaches stderr with no logging set up (import time is
    before anyone configures logging), it is shown once, and it follows the user's warning
    filters (``-W``, ``PYTHONWARNINGS``, pytest's ``filterwarnings``) like any library warning.
    """


class _Found:
    """One metadata folder of the other distribution (a plain class: a dataclass would
    cost more import time than the whole check)."""
    __slots__ = ('metadata', 'version', 'same_folder', 'files_here')

    def __init__(self, metadata: str, version: str, same_folder: bool, files_here: int):
        self.metadata = metadata        # path of its .dist-info / .egg-info folder
        self.version = version
        self.same_folder = same_folder  # next to our lazyllm/ folder: both wrote its files
        self.files_here = files_here    # how many of its recorded files are in lazyllm/ now


def _recorded_package_files(metadata: str) -> list[str]:
    """Absolute paths of the files the other distribution recorded under ``lazyllm/``."""
    base = os.path.dirname(metadata)
    if metadata.lower().endswith('.dist-info'):
        listing, root = os.path.join(metadata, 'RECORD'), base
    else:
        listing, root = os.path.join(metadata, 'installed-files.txt'), metadata
    try:
        with open(listing, encoding='utf-8', errors='replace') as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    if any(line.startswith('"') for line in lines):
        import csv  # quoted paths are rare: pay for csv only then
        paths = [row[0] for row in csv.reader(lines) if row]
    else:
        paths = [line.split(',', 1)[0] for line in lines if line]
    package = os.path.join(base, 'lazyllm') + os.sep
    absolute = (os.path.normpath(os.path.join(root, p)) for p in paths)
    return [p for p in absolute if p.startswith(package)]


def _scan(package_dir: str, search_path: list[str]) -> list[_Found]:
    """Every metadata folder of the other distribution on ``search_path``.

    ``package_dir`` is the ``lazyllm/`` folder that was imported; the folder holding it is
    where pip would have put the other distribution's metadata had both been installed there.
    """
    package_dir = os.path.realpath(package_dir)
    home = os.path.dirname(package_dir)
    found, seen = [], set()
    for entry in search_path:
        folder = os.path.realpath(entry or os.getcwd())
        if folder in seen:
            continue
        seen.add(folder)
        try:
            names = os.listdir(folder)
        except OSError:  # a zip file, a missing or unreadable folder: nothing installed there
            continue
        for name in sorted(n for n in names if n[0] in 'lL' and n[:8].lower() == 'lazyllm-'):
            match = _METADATA.match(name)
            if not match:
                continue
            metadata = os.path.join(folder, name)
            same = folder == home
            here = 0
            if same:
                here = sum(os.path.exists(p) for p in _recorded_package_files(metadata))
            found.append(_Found(metadata, match['version'], same, here))
    return found


def _message(found: list[_Found], package_dir: str, our_version: str) -> str:
    ours = f'{OUR_DISTRIBUTION} {our_version} (imported from {package_dir})'
    lines = [f'Two distributions named `lazyllm` share this Python environment: {ours} and '
             f'LazyLLM from PyPI (distribution `{OTHER_DISTRIBUTION}`).']
    for f in found:
        if f.same_folder:
            lines.append(
                f'LazyLLM {f.version} is installed in the same folder ({f.metadata}) and '
                f'{f.files_here} of its files are in {package_dir}: both write lazyllm/ and '
                f'the `lazyllm` command, so whichever was installed last overwrote the other, '
                f'and uninstalling either one deletes files the other needs.')
        else:
            lines.append(
                f'LazyLLM {f.version} is also installed at {f.metadata}: `import lazyllm` '
                f'gives whichever folder comes first on sys.path (here this package; from '
                f'another directory or process it may be LazyLLM), and the `lazyllm` '
                f'command is the one installed last.')
    lines.append(FIX)
    return '\n'.join(lines)


@functools.lru_cache(maxsize=1)
def report() -> str | None:
    """Why this environment's ``lazyllm`` is ambiguous, and the fix; None when it is not.

    Computed once per process. ``lazyllm --version`` prints it; ``import lazyllm`` warns
    with it (``warn_on_import``).
    """
    from ._version import __version__
    package_dir = os.path.dirname(os.path.abspath(__file__))
    found = _scan(package_dir, list(sys.path))
    return _message(found, package_dir, __version__) if found else None


def warn_on_import() -> None:
    """Warn once with ``report()``; never raise, so ``import lazyllm`` cannot fail here.

    A failure of the check itself, or a warning filter set to ``error``, still reaches the
    user: the text goes to stderr instead of up through the import.
    """
    try:
        message = report()
    except Exception as exc:  # a bug in the check must not make the library unimportable
        message = (f'lazyllm could not check whether LazyLLM from PyPI is installed beside '
                   f'it ({type(exc).__name__}: {exc}). If `import lazyllm` misbehaves, see '
                   f'`pip list` for a `{OTHER_DISTRIBUTION}` entry. {FIX}')
    if message is None:
        return
    global warned
    warned = True
    try:
        warnings.warn(message, InstallClashWarning, stacklevel=3)
    except Warning:  # -W error turned it into an exception: print it rather than raise
        sys.stderr.write(f'InstallClashWarning: {message}\n')
