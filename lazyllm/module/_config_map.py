"""The AutoModel config map: a YAML file that names models and says how to build each.

Why a file: the same application code (``AutoModel('qwen-chat')``) runs on a cloud supplier
in one place and on a local engine in another; only the file changes, not the code. The file
is ``config=`` of AutoModel, else the setting ``auto_model_config_map_path``
(``LAZYLLM_AUTO_MODEL_CONFIG_MAP_PATH``)::

    qwen-chat:                  # the name: AutoModel('qwen-chat')
      - id: prod                # picked by config_id='prod'
        source: qwen
        model: qwen-plus        # the model sent to the supplier (default: the name)
        type: llm
        api_key: ${QWEN_KEY}    # ${ENV} expanded when the module is built
        temperature: 0.2        # any keyword the target module takes
      - id: local
        source: local
        model: /models/SmolLM2-135M-Instruct
        framework: vllm         # engine name; deploy_config: {...} -> deploy_method options
        url: http://127.0.0.1:8000/v1/   # attach instead of launching
    smol:                       # short keys for a local model:
      model: /models/SmolLM2-135M-Instruct
      engine: transformers      # = framework
      dtype: float32            # dtype, quantization, device, max_context_length (the
      max_context_length: 2048  #   engine's max_model_len) and adapters are engine options
      trust_remote_code: false
    embedder:                   # a single mapping is one entry
      source: openai
      base_url: http://127.0.0.1:9000/v1/
      type: embed

For a name, the entry is the one whose ``id`` is ``config_id``, else the first whose
``source`` is the ``source`` asked for, else the first. The file is read every time a module
is built (it is small), so an edit applies without a restart; ``${VAR}`` is expanded only in
the chosen entry, so an unset variable of another entry does not get in the way.

A model-compose file is read as entries too (``_foreign_maps``); keys of MuAI / Xinference
files and a nested ``models:`` block are a ConfigError giving our spelling, never ignored.
"""
from __future__ import annotations

import difflib
import inspect
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._config import config, expand_user
from ..errors import ConfigError, InputError
from . import _foreign_maps as foreign

__all__ = ['ENTRY_KEYS', 'Entry', 'map_path', 'load_map', 'select', 'expand_env', 'keywords',
           'check_keys']


# The keys every entry may use; an entry may also hold any keyword its target module takes.
ENTRY_KEYS = ('id', 'source', 'model', 'type', 'url', 'base_url', 'api_key', 'framework',
              'engine', 'deploy_config', 'stream', 'name', 'static_params', 'trust_remote_code',
              'dtype', 'quantization', 'device', 'max_context_length', 'adapters')
_ENV = re.compile(r'\$\{([^}]*)\}')


@dataclass(frozen=True)
class Entry:
    """One entry of the map: its name, position, values (as written) and file."""
    name: str
    index: int
    values: dict
    path: str

    @property
    def label(self) -> str:
        """How messages name the entry: ``'qwen-chat'[1] (id 'local') of /path/map.yaml``."""
        ident = f" (id {self.values['id']!r})" if 'id' in self.values else ''
        return f'entry {self.name!r}[{self.index}]{ident} of {self.path}'


def map_path(config_arg: Any) -> Path | None:
    """The file ``config=`` names: True -> the setting (None when unset), False/None -> none."""
    if config_arg is None or config_arg is False:
        return None
    if config_arg is True:
        value = config['auto_model_config_map_path']
        return expand_user(value, 'LAZYLLM_AUTO_MODEL_CONFIG_MAP_PATH', error=ConfigError) \
            if value else None
    if isinstance(config_arg, (str, os.PathLike)):
        return expand_user(config_arg, 'config=')
    raise InputError(f'config= takes True (the file of LAZYLLM_AUTO_MODEL_CONFIG_MAP_PATH), a '
                     f'path to a YAML file, or False; got {type(config_arg).__name__}')


def load_map(path: Path) -> dict[str, list[dict]]:
    """name -> its entries, read from ``path``; ConfigError naming the file on any problem."""
    import yaml
    fix = 'fix the file, or pass config=False to build without it'
    try:
        text = path.read_text(encoding='utf-8')
    except OSError as e:
        raise ConfigError(f'cannot read the AutoModel config map {path}: '
                          f'{e.strerror or e}. Check the path (config= or '
                          f'LAZYLLM_AUTO_MODEL_CONFIG_MAP_PATH), or pass config=False') from e
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, 'problem_mark', None)
        where = f' at line {mark.line + 1}, column {mark.column + 1}' if mark else ''
        what = getattr(e, 'problem', None) or str(e)
        raise ConfigError(f'the AutoModel config map {path} is not valid YAML{where}: {what}; '
                          f'{fix}') from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f'the AutoModel config map {path} must be a mapping of model name to '
                          f'entry (or list of entries), not {type(data).__name__}; {fix}')
    if foreign.is_model_compose(data):
        data = foreign.from_model_compose(data, path)
    elif isinstance(data.get('models'), (dict, list)) and not _is_entry(data['models']):
        raise foreign.nested_models_error(path, data['models'])
    table: dict[str, list[dict]] = {}
    for name, value in data.items():
        entries = value if isinstance(value, list) else [value]
        if not entries or not all(isinstance(e, dict) for e in entries):
            raise ConfigError(f'{path}: {name!r} must be a mapping (one entry) or a non-empty '
                              f'list of mappings, e.g. "{name}: {{source: qwen}}"; {fix}')
        for i, entry in enumerate(entries):
            bad = next((k for k in entry if k in foreign.FOREIGN_KEYS), None)
            if bad is not None:
                raise foreign.foreign_key_error(bad, Entry(str(name), i, entry, str(path)).label)
        ids = [str(e['id']) for e in entries if 'id' in e]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ConfigError(f'{path}: {name!r} has more than one entry with id {dup}: only '
                              f'the first could be picked; give each entry its own id')
        table[str(name)] = entries
    return table


def _is_entry(value: Any) -> bool:
    """Whether a top-level ``models:`` is an entry (a model named "models") rather than a
    nested block of entries: an entry uses entry keys."""
    items = value if isinstance(value, list) else [value]
    if isinstance(value, list) and len(items) > 1 and all(
            isinstance(e, dict) and 'name' in e for e in items):
        return False      # a list of named models: a block, not alternatives of one name
    return all(isinstance(e, dict) and e and set(map(str, e)) & set(ENTRY_KEYS) for e in items)


def _ids(entries: list[dict]) -> list[str]:
    return [str(e['id']) for e in entries if 'id' in e]


def select(table: dict[str, list[dict]], path: Path, name: str | None, config_id: Any,
           source: str | None) -> tuple[Entry | None, str]:
    """(the entry for ``name``/``config_id``/``source`` or None, why)."""
    cid = None if config_id is None else str(config_id)
    if name is None:
        for key, listed in table.items():
            for i, e in enumerate(listed):
                if 'id' in e and str(e['id']) == cid:
                    return Entry(key, i, e, str(path)), f'config_id={cid!r} is the first entry ' \
                                                        f'with that id in {path} ({key!r})'
        known = sorted({f'{k}:{i}' for k, es in table.items() for i in _ids(es)})
        raise ConfigError(f'no entry of the AutoModel config map {path} has id {cid!r}: the '
                          f'ids are {known or "none"} (as name:id); fix config_id= or the file')
    entries = table.get(name)
    if entries is None:
        if cid is not None:
            raise ConfigError(f'config_id={cid!r} was given but the AutoModel config map {path} '
                              f'has no entry named {name!r} (names: {sorted(table) or "none"}); '
                              f'add it to the file or drop config_id=')
        return None, f'{path} has no entry {name!r}'
    if cid is not None:
        for i, e in enumerate(entries):
            if 'id' in e and str(e['id']) == cid:
                return Entry(name, i, e, str(path)), f'config_id={cid!r} picks it'
        raise ConfigError(f'{path}: {name!r} has no entry with id {cid!r}: its ids are '
                          f'{_ids(entries) or "none"}; fix config_id= or the file')
    if source is not None:
        for i, e in enumerate(entries):
            if e.get('source') == source:
                return Entry(name, i, e, str(path)), f'it is the first with source={source!r}'
    return Entry(name, 0, entries[0], str(path)), 'it is the first entry of the name'


def expand_env(entry: Entry) -> dict:
    """The entry's values with every ``${VAR}`` replaced by the environment variable."""
    def expand(value: Any) -> Any:
        if isinstance(value, str):
            return _ENV.sub(sub, value)
        if isinstance(value, dict):
            return {k: expand(v) for k, v in value.items()}
        if isinstance(value, list):
            return [expand(v) for v in value]
        return value

    def sub(match: re.Match) -> str:
        var = match.group(1)
        if var not in os.environ:
            raise ConfigError(f'{entry.label} uses ${{{var}}} but the environment variable '
                              f'{var} is not set: set it, or write the value in the file')
        return os.environ[var]
    return {k: expand(v) for k, v in entry.values.items()}


def keywords(fn: Any) -> set[str]:
    """The keyword names ``fn`` takes: what an entry may set for a module built by ``fn``."""
    params = inspect.signature(fn).parameters.values()
    return {p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
            and p.name != 'self'}


def check_keys(values: dict, accepted: set, from_kw: set, entry: Any, target: str) -> None:
    """Raise for keys the target module does not take: InputError for the caller's keywords,
    ConfigError for keys that came from the file (the fix is in a different place)."""
    bad = sorted(set(values) - accepted)
    mine = [k for k in bad if k in from_kw]
    if mine:
        raise InputError(f'AutoModel got keyword(s) {mine} that {target} does not take'
                         f'{_hints(mine, accepted)}: it takes {sorted(accepted)}')
    if bad:
        allowed = accepted | {'id', 'source', 'model'}
        raise ConfigError(f'{entry.label} has unknown key(s) {bad} for {target}'
                          f'{_hints(bad, allowed)}: the allowed keys are {sorted(allowed)}; '
                          f'fix the entry')


def _hints(keys: list, valid: set) -> str:
    """' (for 'x': did you mean 'y'?)' for each key that has a close valid one, else ''."""
    hints = []
    for k in keys:
        close = difflib.get_close_matches(k, sorted(valid), n=1, cutoff=0.6)
        if close:
            hints.append(f'for {k!r}: did you mean {close[0]!r}?')
    return f' ({"; ".join(hints)})' if hints else ''
