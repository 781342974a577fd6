"""One settings object for all of lazyllm (DESIGN rule 7).

A value is looked up, every time it is read, in this order:

1. a keyword argument the caller passes (``config.resolve('timeout', timeout)``);
2. a value set in code: ``lazyllm.config['timeout'] = 30`` or ``with config.override(...)``;
3. the environment variable ``LAZYLLM_<NAME>`` (``LAZYLLM_TIMEOUT=30``);
4. ``$LAZYLLM_HOME/config.yaml`` (default ``~/.lazyllm/config.yaml``), a flat mapping of
   setting: value (a key that is no setting is a ConfigError naming the nearest one);
5. the setting's default.

Nothing is read at import time and nothing is written by reading: importing lazyllm creates
no files. The built-in settings are one table at the end of this file; a plugin registers its
own with ``config.add(...)``. ``config.show()`` (and ``lazyllm config show``) lists the
effective values with their source, secrets masked.
"""
from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from ._redact import mask
from .errors import ConfigError, InputError

__all__ = ['Config', 'Setting', 'config', 'expand_user']

_UNSET = object()
_TRUE = {'1', 'true', 'yes', 'on'}
_FALSE = {'0', 'false', 'no', 'off', ''}


def _parse_bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    s = str(v).strip().lower()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise ValueError(f'{v!r} is not a boolean (use true/false, 1/0, yes/no, on/off)')


def threads_only(v: Any) -> bool:
    """``parallel_multiprocessing``: LazyLLM code reads it; only false is true to what runs."""
    if _parse_bool(v):
        raise ValueError('flow branches run in threads here; multiprocessing is not supported')
    return False


def expand_user(path: str | os.PathLike, what: str, *,
                error: type[Exception] = InputError) -> Path:
    """``Path(path).expanduser()``, with pathlib's failures as a lazyllm error naming
    ``what`` (the argument or setting the path came from).

    pathlib raises ``RuntimeError: Could not determine home directory`` for ``~nosuchuser/x``
    (and for ``~`` when neither $HOME nor the password database knows the user), and a NUL
    byte makes every later file call raise ``ValueError``; ``os.path.expanduser`` would keep
    the ``~`` and give a confusing "not found" later. ``error`` is InputError for an
    argument, ConfigError for a setting.
    """
    text = os.fspath(path)
    if not isinstance(text, str):
        raise error(f'{what} must be a str path, not {type(text).__name__}: pass e.g. '
                    f'"/models/name"')
    if '\0' in text:
        raise error(f'{what} {text!r} holds a NUL character, which no path can: remove it')
    try:
        return Path(text).expanduser()
    except RuntimeError:
        user = text[1:].split('/', 1)[0]
        who = f'the user {user!r}' if user else 'the current user'
        raise error(f'{what} {text!r} starts with ~{user}, but the home folder of {who} '
                    f'is unknown on this machine: write the full path (e.g. /home/...), or '
                    f'use ~/ for your own home') from None


_PARSERS: dict[Any, Callable[[Any], Any]] = {bool: _parse_bool, int: int, float: float, str: str}


@dataclass(frozen=True)
class Setting:
    """One named setting: its default, type, whether it is secret, and what it is for."""
    name: str
    default: Any
    type: type | Callable[[Any], Any] = str   # a type, or a checker such as threads_only
    doc: str = ''
    secret: bool = False

    @property
    def env(self) -> str:
        return 'LAZYLLM_' + self.name.upper()

    def parse(self, value: Any, origin: str) -> Any:
        if value is None:
            return None
        try:
            return _PARSERS.get(self.type, self.type)(value)
        except (TypeError, ValueError) as e:
            # a secret's value must not leak, not even through the parser's message
            shown, why = (mask(value), '') if self.secret else (repr(value), f': {e}')
            raise ConfigError(f'{origin} sets {self.name} to {shown}, which is not a valid '
                              f'{self.type.__name__}{why}. Fix or unset {origin}.') from None


class Config:
    """The settings registry and lookup. ``lazyllm.config`` is the one instance."""

    def __init__(self, setting_modules: tuple[str, ...] = ()) -> None:
        # modules whose import registers the rest of the settings: imported only when the
        # config file names a setting not registered yet, to tell a typo from a setting of a
        # layer that was not imported (import lazyllm stays fast)
        self._setting_modules = setting_modules
        self._settings: dict[str, Setting] = {}
        self._overrides: dict[str, Any] = {}
        self._lock = threading.RLock()
        self._file_cache: tuple[Path, float, dict] | None = None

    # -- registration ---------------------------------------------------------------------
    def add(self, name: str, default: Any = None, type: type | Callable[[Any], Any] = str,
            doc: str = '', secret: bool = False) -> Setting:
        """Register a setting. Registering the same name again with the same spec is a no-op."""
        s = Setting(name, default, type, doc, secret)
        with self._lock:
            old = self._settings.get(name)
            if old is not None and old != s:
                raise ConfigError(f'setting {name!r} is already registered differently; '
                                  f'pick another name for the new setting.')
            self._settings[name] = s
        return s

    def setting(self, name: str) -> Setting:
        try:
            return self._settings[name]
        except KeyError:
            raise ConfigError(f'unknown setting {name!r}; known settings: '
                              f'{", ".join(sorted(self._settings))}.') from None

    def __contains__(self, name: str) -> bool:
        return name in self._settings

    # -- lookup ---------------------------------------------------------------------------
    def __getitem__(self, name: str) -> Any:
        return self.lookup(name)[0]

    def resolve(self, name: str, explicit: Any = None) -> Any:
        """The keyword value when the caller gave one (not None), else the configured value."""
        return self.setting(name).parse(explicit, 'the keyword') if explicit is not None \
            else self[name]

    def lookup(self, name: str) -> tuple[Any, str]:
        """The effective value of ``name`` and where it came from."""
        s = self.setting(name)
        with self._lock:
            if name in self._overrides:
                return self._overrides[name], 'set in code'
        if s.env in os.environ:
            return s.parse(os.environ[s.env], s.env), s.env
        data = self._file_values()
        if name in data:
            return s.parse(data[name], f'{self.file_path()} key {name!r}'), 'config file'
        return s.default, 'default'

    def __setitem__(self, name: str, value: Any) -> None:
        s = self.setting(name)
        with self._lock:
            self._overrides[name] = s.parse(value, 'the value set in code')

    def reset(self, name: str) -> None:
        """Forget a value set in code, so the environment/file/default applies again."""
        with self._lock:
            self._overrides.pop(name, None)

    @contextlib.contextmanager
    def override(self, **values: Any) -> Iterator['Config']:
        """Set values in code for the duration of a ``with`` block (handy in tests)."""
        with self._lock:
            saved = {k: self._overrides.get(k, _UNSET) for k in values}
            for k, v in values.items():
                self[k] = v
        try:
            yield self
        finally:
            with self._lock:
                for k, v in saved.items():
                    if v is _UNSET:
                        self._overrides.pop(k, None)
                    else:
                        self._overrides[k] = v

    # -- the file -------------------------------------------------------------------------
    @staticmethod
    def home() -> Path:
        """``$LAZYLLM_HOME`` or ``~/.lazyllm``. Read each time, never created here."""
        return expand_user(os.environ.get('LAZYLLM_HOME') or '~/.lazyllm', 'LAZYLLM_HOME',
                           error=ConfigError)

    def file_path(self) -> Path:
        return self.home() / 'config.yaml'

    def _file_values(self) -> dict:
        path = self.file_path()
        try:
            mtime = path.stat().st_mtime
        except OSError:
            return {}
        cache = self._file_cache
        if cache and cache[0] == path and cache[1] == mtime:
            return cache[2]
        import yaml  # only when a config file exists
        try:
            data = yaml.safe_load(path.read_text(encoding='utf-8')) or {}
        except (OSError, yaml.YAMLError) as e:
            raise ConfigError(f'cannot read {path}: {e}. Fix the YAML or remove the file.') from e
        if not isinstance(data, dict):
            raise ConfigError(f'{path} must hold a mapping of setting: value, not '
                              f'{type(data).__name__}. Fix or remove the file.')
        self._check_file_keys(path, data)
        self._file_cache = (path, mtime, data)
        return data

    def register_all(self) -> None:
        """Import the layers that register settings when they load (the online suppliers'
        API keys, plugin suppliers' included), so every setting is known."""
        import importlib
        for ref in self._setting_modules:    # 'module' or 'module:function' (called)
            name, _, function = ref.partition(':')
            module = importlib.import_module(name)
            if function:
                getattr(module, function)()

    def _check_file_keys(self, path: Path, data: dict) -> None:
        """A key of the file that is no setting is a typo (``timout: 3``): say so, with the
        nearest setting, instead of ignoring it."""
        if all(str(k) in self._settings for k in data):
            return
        self.register_all()
        unknown = [str(k) for k in data if str(k) not in self._settings]
        if not unknown:
            return
        import difflib
        key = unknown[0]
        close = difflib.get_close_matches(key, sorted(self._settings), n=1, cutoff=0.6)
        hint = f'; did you mean {close[0]!r}?' if close else '.'
        more = f' (and {unknown[1:]})' if len(unknown) > 1 else ''
        raise ConfigError(f'{path} sets {key!r}{more}, which is no lazyllm setting{hint} Fix '
                          f'or remove the key; `lazyllm config show` lists the settings.')

    # -- display --------------------------------------------------------------------------
    def show(self) -> list[tuple[str, str, str]]:
        """(name, value, source) for every setting, secrets masked, sorted by name."""
        rows = []
        for name in sorted(self._settings):
            s = self._settings[name]
            value, source = self.lookup(name)
            rows.append((name, mask(value) if s.secret else repr(value), source))
        return rows

    def __repr__(self) -> str:
        return f'<lazyllm.Config {len(self._settings)} settings; see config.show()>'


def _add_builtin_settings(config: Config) -> None:
    """Every built-in setting, in one table: one place answers "what can I configure?", and
    a key of config.yaml is told from a typo without importing the layer that reads it. A
    plugin adds its own with ``config.add(...)``, as each online supplier does for its
    ``<name>_api_key`` when it registers."""
    # -- logging and model calls
    config.add('log_level', 'WARNING', str, 'level of the lazyllm logger (DEBUG, INFO, WARNING…)')
    config.add('timeout', 600.0, float,
               'seconds a whole model call may take, streamed or not, before EndpointTimeout')
    config.add('connect_timeout', 5.0, float, 'seconds to wait for a TCP connection to an endpoint')
    config.add('max_retries', 3, int,
               'retries on connect errors, 429 and 5xx before the first byte of an answer')
    config.add('max_image_mb', 20.0, float, 'largest image (MB) sent to an online vision model')
    config.add('max_audio_mb', 25.0, float, 'largest audio file (MB) sent to speech-to-text')

    # -- flows
    config.add('max_workers', 8, int,
               'threads used by parallel, warp, diverter, graph and start() of a tree')
    config.add('parallel_multiprocessing', False, threads_only,
               'always false: parallel, warp and diverter run branches in threads (LazyLLM code '
               'reads this setting)')

    # -- online suppliers (each supplier adds its own <name>_api_key when it registers)
    config.add('default_source', '', str, 'the online supplier used when a module names none '
               '(e.g. qwen); else the first supplier with a key')

    # -- AutoModel
    config.add('auto_model_config_map_path', '', str,
               'YAML file of named model entries that lazyllm.AutoModel reads (docs/automodel.md)')

    # -- where weights come from (hub)
    config.add('model_path', '', str, 'colon-separated folders holding model folders (read-only)')
    config.add('model_cache_dir', '', str,
               'where downloaded models live (default: $LAZYLLM_HOME/models)')
    config.add('model_source', 'huggingface', str,
               'hub to download models from: huggingface or modelscope (the other is the fallback)')
    config.add('model_source_token', '', str, 'token for gated or private models on the hub',
               secret=True)
    config.add('catalog', '', str, 'extra model catalog (JSON file) merged over the built-in one')

    # -- engines and where they run (deploy, launch)
    config.add('engine_python', '', str,
               'interpreter that runs built-in engines (default: this one)')
    config.add('vllm_python', '', str,
               'interpreter (a venv with vllm installed) that runs the vllm engine; '
               'default: engine_python, else this one')
    config.add('llamacpp_server', '', str,
               "llama.cpp's llama-server binary the llamacpp engine runs; default: the one of "
               'the llamacpp extra, else llama-server on PATH')
    config.add('llamacpp_convert', '', str,
               "llama.cpp's convert_hf_to_gguf.py for `lazyllm models convert`; default: fetched "
               'once from the llamacpp extra\'s source package')
    config.add('default_launcher', 'local', str,
               'where engines and jobs run when no launcher is given: local, slurm or ray')
    config.add('ray_bin', 'ray', str, 'the `ray` command lazyllm.launchers.ray(start_local=True) '
               'starts a head with')

    # -- serving: deployments and the live-engine pool
    config.add('deploy_timeout', 900.0, float, 'seconds an engine may take to become ready')
    config.add('drain_timeout', 30.0, float,
               'seconds an engine replaced by a swap gets to finish the calls it is answering')
    config.add('engine_api_key', None, str,
               'API key the built-in engines require and lazyllm sends to them', secret=True)
    config.add('preflight', True, bool, 'refuse a deployment that cannot fit in the memory free '
               'where it would run, before any download or process start (lazyllm.plan)')
    config.add('max_live_models', 0, int, 'most local engines this process keeps running; the '
               'least recently used is stopped to make room (0: no cap)')
    config.add('model_memory_threshold', 0.0, float, 'fraction of RAM in use (0-1) above which '
               'the least recently used local engine is stopped before another starts (0: off)')

    # -- finetuning
    config.add('finetune_dir', '', str, 'where finetuned runs are written (default: '
               '$LAZYLLM_HOME/finetuned, or the module\'s target_path)')

    # -- the command line
    config.add('progress_interval', 10.0, float,
               'seconds between progress lines of the command line when stderr is not a terminal')


# the online suppliers' key settings exist once their table is loaded (see register_all)
config = Config(setting_modules=('lazyllm.module.online:load_suppliers',))
_add_builtin_settings(config)
