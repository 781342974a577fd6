"""Where engine processes run: ``launch(argv, resources) -> Job``.

``launchers`` is the table of launchers by name (a ``lazyllm._registry.Registry``);
``get_launcher`` turns a name, class or instance into a launcher. Built-in launchers register
the same way a plugin does, with ``launchers.register(name, cls)``; a package can also declare
an entry point in the group ``lazyllm.launchers`` (``name = "pkg.module:LauncherClass"``),
loaded on the first lookup of an unknown name or the first listing.

    from lazyllm.launch import get_launcher
    launcher = get_launcher('local')
    port = launcher.allocate_port()
    job = launcher.launch([sys.executable, '-m', 'http.server', '--bind', launcher.host,
                           str(port)], name='files')
    ...
    job.stop()
"""
from __future__ import annotations

from typing import Any, Iterable, cast

from .._config import config
from .._registry import Registry
from ..errors import InputError
from ._base import (
    ENDED,
    HOST,
    OWN_PORT,
    PORT,
    STATUSES,
    Job,
    Launcher,
    Resources,
    Status,
    fill_endpoint,
    read_file,
    tail_file,
)
from ._local import LocalJob, LocalLauncher
from ._memory import NEED_ENV, REFUSED_TAG, Memory, gib, machine_memory
from ._node import PREFIX as ENDPOINT_PREFIX
from ._ports import allocate_port, port_is_free
from ._ray import RayJob, RayLauncher
from ._slurm import SlurmJob, SlurmLauncher

__all__ = ['Launcher', 'Job', 'Resources', 'Status', 'STATUSES', 'ENDED', 'HOST', 'PORT',
           'OWN_PORT', 'ENDPOINT_PREFIX',
           'fill_endpoint', 'LocalLauncher', 'LocalJob', 'SlurmLauncher', 'SlurmJob',
           'RayLauncher', 'RayJob', 'LauncherRegistry', 'launchers', 'get_launcher',
           'launcher_from_ref', 'allocate_port', 'port_is_free', 'Memory', 'machine_memory',
           'gib', 'NEED_ENV', 'REFUSED_TAG', 'read_file', 'tail_file']


def _admit(name: str, cls: type[Launcher]) -> None:
    if not (isinstance(cls, type) and issubclass(cls, Launcher)):
        raise InputError(f'launcher {name!r} must be a subclass of '
                         f'lazyllm.launch.Launcher, not {cls!r}.')


class LauncherRegistry(Registry[type[Launcher]]):
    """Launcher classes by name: ``launchers.slurm`` is ``launchers['slurm']`` (LazyLLM users
    write ``lazyllm.launchers.slurm(...)``). Besides every registry's ``register(cls, name)``,
    the launcher's own spellings stay: ``register(name, cls)`` and ``@register(name)``."""

    def __init__(self) -> None:
        super().__init__('launcher', 'lazyllm.launchers', admit=_admit, named=False)

    def register(self, obj: type[Launcher] | str,
                 name: str | type[Launcher] | None = None, *, aliases: Iterable[str] = (),
                 replace: bool = False) -> Any:
        """Register a launcher class under ``name``; ``register(name)`` alone is a class
        decorator."""
        if isinstance(obj, str):                 # register(name, cls) or @register(name)
            label = obj
            if name is None:
                return lambda cls: self.register(cls, label, aliases=aliases, replace=replace)
            obj, name = name, label
        # the types are checked where every entry is: _admit, and the registry for the name
        return super().register(cast('type[Launcher]', obj), cast('str | None', name),
                                aliases=aliases, replace=replace)

    def lookup(self, name: str) -> type[Launcher]:
        """``get(name)``, the launcher's historic spelling."""
        return self.get(name)

    def __getattr__(self, name: str) -> type[Launcher]:
        if name.startswith('_'):
            raise AttributeError(name)
        try:
            return self.get(name)
        except InputError as e:
            raise AttributeError(str(e)) from None


launchers = LauncherRegistry()
launchers.register('local', LocalLauncher)
launchers.register('slurm', SlurmLauncher)
launchers.register('ray', RayLauncher)


def get_launcher(launcher: str | Launcher | type[Launcher] | None = None,
                 **options: Any) -> Launcher:
    """A launcher from a name (``'local'``), a Launcher class or instance; None means the
    configured default (setting ``default_launcher``, env ``LAZYLLM_DEFAULT_LAUNCHER``,
    'local' if unset).
    ``options`` are passed to the class, e.g. ``get_launcher('local', grace=5)``."""
    if isinstance(launcher, Launcher):
        if options:
            raise InputError(f'options {sorted(options)} cannot apply to an existing '
                             f'launcher instance; pass a name or class instead.')
        return launcher
    if launcher is None:
        launcher = config['default_launcher']
    if isinstance(launcher, str):
        launcher = launchers.lookup(launcher)
    if isinstance(launcher, type) and issubclass(launcher, Launcher):
        return launcher(**options)
    raise InputError(f'launcher must be a name such as "local", a Launcher class or '
                     f'instance, not {type(launcher).__name__}.')


def launcher_from_ref(ref: str) -> Launcher:
    """The launcher a ``Launcher.ref`` string names (``'slurm'``, ``'ray:http://h:8265'``),
    to reach a job another process launched."""
    name, _, rest = (ref or 'local').partition(':')
    return launchers.lookup(name).from_ref(rest)
