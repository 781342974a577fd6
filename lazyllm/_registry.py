"""One registry pattern for what lazyllm looks up by name: engines, online suppliers,
finetune methods, launchers and CLI commands.

Why one: a third-party package extends each of them the same way, through an entry-point group
of its pyproject.toml (``name = "pkg.module:object"``), and every table answers the same way:
a name or alias already taken is refused unless ``replace=True`` says the change is meant, an
unknown name lists the known ones and the nearest, and a plugin that fails to load is an error
naming it and its entry point, not a foreign ImportError (a ConfigError: what is wrong is an
installed package, not the name asked for). Built-ins go through the same ``register`` a
plugin's object goes through, so a plugin is no second-class entry.

A group's entry points are read once, the first time an unknown name is looked up or the
table is listed: ``import lazyllm`` reads no package metadata and imports no plugin.
"""
from __future__ import annotations

import difflib
import threading
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Callable, Generic, Iterable, Iterator, TypeVar, overload

from ._log import get_logger
from .errors import ConfigError, InputError

__all__ = ['Registry']

T = TypeVar('T')
D = TypeVar('D')
_MISSING: Any = object()


class Registry(Generic[T]):
    """Entries of one ``kind`` by case-insensitive name, with aliases.

    ``admit(name, obj)`` checks an entry before it is added (an InputError refuses it) and
    prepares what it needs (a supplier's key setting). With ``named``, an entry carries its
    own name (``obj.name``) and is registered under it. ``hint`` ends the unknown-name error
    (another way to get what was asked for)."""

    def __init__(self, kind: str, entry_point_group: str | None, *,
                 admit: Callable[[str, T], None] | None = None, named: bool = True,
                 hint: str = '') -> None:
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._admit = admit
        self._named = named
        self._hint = hint
        self._entries: dict[str, T] = {}
        self._aliases: dict[str, str] = {}                   # alias -> name
        self._broken: dict[str, tuple[str, Exception]] = {}  # plugin name -> (message, cause)
        self._loaded = entry_point_group is None
        self._loading = False          # this thread is loading them (a plugin looked us up)
        self._lock = threading.RLock()

    # -- registering ------------------------------------------------------------------------
    def register(self, obj: T, name: str | None = None, *, aliases: Iterable[str] = (),
                 replace: bool = False) -> T:
        """Add ``obj`` under ``name`` (default ``obj.name``) and ``aliases``; returns ``obj``,
        so ``x = table.register(X(...))`` reads as a definition."""
        key = self._key(getattr(obj, 'name', None) if name is None else name)
        keys = list(dict.fromkeys([key, *map(self._key, aliases)]))
        own = getattr(obj, 'name', None)
        if self._named and isinstance(own, str) and own.lower() != key:
            raise InputError(f'{self.kind} {own!r} cannot be registered as {key!r}: register '
                             f'it under its own name (its .name), or add {key!r} as an alias')
        with self._lock:
            taken = [k for k in keys if k in self._entries or k in self._aliases]
            if taken and not replace:
                raise InputError(self._taken(taken[0]))
            if self._admit is not None:
                self._admit(key, obj)
            for k in taken:
                self._drop(k)
            self._entries[key] = obj
            self._aliases.update((alias, key) for alias in keys[1:])
        return obj

    def __delitem__(self, name: str) -> None:
        """Remove an entry (with its aliases), or one alias."""
        with self._lock:
            key = self._key(name)
            if key not in self._entries and key not in self._aliases:
                raise InputError(self._unknown(name))
            self._drop(key)

    # -- looking up -------------------------------------------------------------------------
    @overload
    def get(self, name: str) -> T: ...

    @overload
    def get(self, name: str, default: D) -> T | D: ...

    def get(self, name: str, default: Any = _MISSING) -> Any:
        """The entry of ``name`` or an alias; without ``default``, an unknown name is an
        InputError (nearest names, known names) and a plugin that failed to load is a
        ConfigError naming it."""
        if name not in self:
            if default is not _MISSING:
                return default
            broken = self._broken.get(name.lower()) if isinstance(name, str) else None
            if broken:
                raise ConfigError(broken[0]) from broken[1]
            raise InputError(self._unknown(name))
        key = name.lower()
        return self._entries[self._aliases.get(key, key)]

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = name.lower()
        if key not in self._entries and key not in self._aliases:
            self._load_plugins()
        return key in self._entries or key in self._aliases

    # -- listing (plugins included) ---------------------------------------------------------
    def names(self) -> list[str]:
        """The names, in the order they were registered (built-ins first); no aliases."""
        self._load_plugins()
        return list(self._entries)

    def items(self) -> list[tuple[str, T]]:
        self._load_plugins()
        return list(self._entries.items())

    def values(self) -> list[T]:
        self._load_plugins()
        return list(self._entries.values())

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def __repr__(self) -> str:
        return f'<{self.kind} registry: {", ".join(self._entries)}>'

    # -- plugins ----------------------------------------------------------------------------
    def _load_plugins(self) -> None:
        """Register the entry points of the group, once. One that fails is kept as an error
        for its name and logged; the others still register."""
        group = self.entry_point_group
        if self._loaded or group is None:
            return
        with self._lock:            # other threads wait until every plugin is in
            if self._loaded or self._loading:
                return
            self._loading = True
            try:
                for ep in entry_points(group=group):
                    try:
                        self.register(ep.load(), name=ep.name)
                    except Exception as e:
                        message = self._plugin_failed(ep, e)
                        self._broken[ep.name.lower()] = (message, e)
                        get_logger().warning(message)
            finally:
                self._loaded, self._loading = True, False

    def _plugin_failed(self, ep: EntryPoint, error: Exception) -> str:
        dist = getattr(getattr(ep, 'dist', None), 'name', None)
        where = f' of the package {dist}' if dist else ''
        package = dist or 'the package that declares it'
        return (f'the {self.kind} plugin {ep.name!r} (entry point {ep.name} = "{ep.value}" in '
                f'the group {self.entry_point_group!r}{where}) failed to load: '
                f'{type(error).__name__}: {error}. Update or reinstall {package}, or uninstall '
                f'it if you do not need it')

    # -- helpers ----------------------------------------------------------------------------
    def _key(self, name: Any) -> str:
        if not isinstance(name, str) or not name.strip():
            raise InputError(f'a {self.kind} name must be a non-empty str, not {name!r}: pass '
                             f'name=, or give the object a .name')
        return name.lower()

    def _drop(self, key: str) -> None:
        """Forget an alias, or an entry with its aliases (nothing if already gone)."""
        if key in self._aliases:
            del self._aliases[key]
        elif self._entries.pop(key, None) is not None:
            for alias in [a for a, owner in self._aliases.items() if owner == key]:
                del self._aliases[alias]

    def _taken(self, key: str) -> str:
        owner = self._aliases.get(key)
        existing = f'as an alias of {owner!r}' if owner else f'({self._entries[key]!r})'
        return (f'{self.kind} {key!r} is already registered {existing}: pass replace=True to '
                f'replace it, or choose another name')

    def _unknown(self, name: Any) -> str:
        close = difflib.get_close_matches(str(name).lower(), [*self._entries, *self._aliases],
                                          n=2)
        mean = f' (did you mean {" or ".join(map(repr, close))}?)' if close else ''
        plugins = (f'; a package adds one through the entry-point group '
                   f'{self.entry_point_group!r}' if self.entry_point_group else '')
        return (f'unknown {self.kind} {name!r}{mean}: use one of '
                f'{", ".join(sorted(self._entries)) or "none yet"}{self._hint}{plugins}')
