"""The deployment registry: one SQLite file shared by every lazyllm process of a user.

``Registry()`` is ``<lazyllm home>/registry.db`` (``$LAZYLLM_HOME``, default ``~/.lazyllm``);
nothing is read or created until the first call. The database runs in WAL mode with a busy
timeout, so processes that read and write at the same time wait for each other instead of
failing with "database is locked". Every call opens its own connection: a Registry may be
used from several threads, and survives a fork.

It also holds the published variants (``share(...).publish(name)``): a name over a
deployment with the prompt, history, sampling, adapter and formatter of a share, stored as
data (``Published.spec``) so that any process -- the gateway above all -- can apply them.

``Registry.lock(name)`` is a cross-process lock per deployment name (a file lock in
``<folder of the db>/locks``): whoever holds it may look the name up and launch it, while
another process that wants the same name waits.

    reg = Registry()
    with reg.lock('qwen'):
        rec = reg.get('qwen')
        if rec is None:
            rec = reg.put(Record(name='qwen', model='Qwen/Qwen2-0.5B-Instruct'))
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, TypeVar

from .._config import Config, expand_user
from ..errors import ConfigError, DeployError, InputError

if TYPE_CHECKING:
    import sqlite3

__all__ = ['Record', 'Published', 'Registry', 'check_name', 'check_variant_name',
           'RECORD_STATUSES', 'SCHEMA_VERSION']

RECORD_STATUSES: tuple[str, ...] = ('starting', 'running', 'stopped', 'failed')
SCHEMA_VERSION = 3   # 2: the engine's launch token; 3: published variants and replicas
BUSY_TIMEOUT = 30.0  # seconds a call waits for another process's write to finish
_NAME = re.compile(r'[A-Za-z0-9._-]{1,64}')
_VARIANT_NAME = re.compile(r'[A-Za-z0-9._:-]{1,64}')
_T = TypeVar('_T')


def check_name(name: Any) -> str:
    """``name`` if it is a valid deployment name, else InputError naming the rule."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InputError(f'deployment name {name!r} is not valid: use 1 to 64 letters, digits, '
                         f'".", "_" or "-" (e.g. "qwen2-7b"), nothing else.')
    return name


def check_variant_name(name: Any) -> str:
    """``name`` if it is a valid variant name (a deployment name's characters, and ":")."""
    if not isinstance(name, str) or not _VARIANT_NAME.fullmatch(name):
        raise InputError(f'variant name {name!r} is not valid: use 1 to 64 letters, digits, '
                         f'".", "_", "-" or ":" (e.g. "smol:geo"), nothing else.')
    return name


@dataclass
class Published:
    """A published variant: ``name`` answers as the deployment ``base`` with ``spec`` (the
    share's prompt, history, sampling, adapter and formatter as JSON data)."""
    name: str
    base: str
    spec: dict
    created: float = 0.0


@dataclass
class Record:
    """One deployment as the registry knows it."""
    name: str                        # unique, the user's name for the deployment
    model: str                       # what the user asked for (a path or a name)
    path: str = ''                   # the resolved model folder
    type: str = ''                   # llm / embed / rerank / …
    engine: str = ''                 # transformers / vllm / …
    options: dict = field(default_factory=dict)
    config_hash: str = ''
    url: str = ''                    # the OpenAI base URL …/v1/
    pid: int | None = None           # the job's process group id (local)
    job_id: str = ''                 # the launcher's job id
    launcher: str = 'local'
    log_path: str = ''
    owner_pid: int | None = None     # the interpreter that launched it
    detached: bool = False
    status: str = 'starting'         # starting | running | stopped | failed
    created: float = 0.0             # time.time()
    last_seen: float = 0.0
    # the launch token the engine answers with (deploy/_identity.py): attaching by name
    # checks it, so a process that took over the URL is refused. A secret: never shown.
    token: str = field(default='', repr=False)
    # the deployment this one is a replica of: the gateway serves both under that name
    replica_of: str = ''


_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Record))
_SCHEMA = '''
CREATE TABLE IF NOT EXISTS deployments (
    name        TEXT PRIMARY KEY NOT NULL,
    model       TEXT NOT NULL,
    path        TEXT NOT NULL DEFAULT '',
    type        TEXT NOT NULL DEFAULT '',
    engine      TEXT NOT NULL DEFAULT '',
    options     TEXT NOT NULL DEFAULT '{}',
    config_hash TEXT NOT NULL DEFAULT '',
    url         TEXT NOT NULL DEFAULT '',
    pid         INTEGER,
    job_id      TEXT NOT NULL DEFAULT '',
    launcher    TEXT NOT NULL DEFAULT 'local',
    log_path    TEXT NOT NULL DEFAULT '',
    owner_pid   INTEGER,
    detached    INTEGER NOT NULL DEFAULT 0,
    status      TEXT NOT NULL DEFAULT 'starting',
    created     REAL NOT NULL DEFAULT 0,
    last_seen   REAL NOT NULL DEFAULT 0,
    token       TEXT NOT NULL DEFAULT '',
    replica_of  TEXT NOT NULL DEFAULT ''
)'''
_VARIANTS = '''
CREATE TABLE IF NOT EXISTS variants (
    name    TEXT PRIMARY KEY NOT NULL,
    base    TEXT NOT NULL,
    spec    TEXT NOT NULL,
    created REAL NOT NULL DEFAULT 0
)'''
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: ("ALTER TABLE deployments ADD COLUMN token TEXT NOT NULL DEFAULT ''",),
    2: (_VARIANTS, "ALTER TABLE deployments ADD COLUMN replica_of TEXT NOT NULL DEFAULT ''")}


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    'options': (lambda v: isinstance(v, dict), 'a dict'),
    'pid': (lambda v: v is None or _is_int(v), 'an int or None'),
    'owner_pid': (lambda v: v is None or _is_int(v), 'an int or None'),
    'detached': (lambda v: isinstance(v, bool), 'True or False'),
    'status': (lambda v: v in RECORD_STATUSES, f'one of {", ".join(RECORD_STATUSES)}'),
    'created': (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool), 'a number'),
    'last_seen': (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
                  'a number'),
}


def _column(name: str, value: Any) -> Any:
    """``value`` of field ``name`` checked and converted for its column."""
    ok, want = _CHECKS.get(name, (lambda v: isinstance(v, str), 'a str'))
    if name == 'name' or (name == 'replica_of' and value):
        check_name(value)
    elif not ok(value):
        raise InputError(f'Record.{name} must be {want}, got {value!r}.')
    if name == 'options':
        try:
            return json.dumps(value, sort_keys=True)
        except (TypeError, ValueError) as e:
            raise InputError(f'Record.options must be JSON-serialisable (str, numbers, bools, '
                             f'None, lists and dicts of them): {e}.') from None
    if name == 'detached':
        return int(value)
    if name in ('created', 'last_seen'):
        return float(value)
    return value


def _record(row: sqlite3.Row) -> Record:
    values = dict(zip(_FIELDS, row))
    values['options'] = json.loads(values['options'])
    values['detached'] = bool(values['detached'])
    return Record(**values)


class Registry:
    """The deployments of this user, in the SQLite file ``path`` (default
    ``<lazyllm home>/registry.db``, resolved at each call). Thread- and process-safe."""

    def __init__(self, path: str | os.PathLike | None = None):
        self._explicit = expand_user(path, 'the registry path') if path is not None else None
        self._ready: set[Path] = set()   # files whose schema this instance has checked
        self._ready_lock = threading.Lock()

    @property
    def path(self) -> Path:
        """The database file (not created by reading this)."""
        return self._explicit if self._explicit is not None else Config.home() / 'registry.db'

    # -- the API --------------------------------------------------------------------------
    def get(self, name: str) -> Record | None:
        """The record of ``name``, or None."""
        check_name(name)
        row = self._run(lambda db: db.execute(
            f'SELECT {", ".join(_FIELDS)} FROM deployments WHERE name = ?', (name,)).fetchone())
        return _record(row) if row is not None else None

    def put(self, record: Record) -> Record:
        """Insert ``record``, or replace the one of the same name; returns what was stored: a
        copy with ``created`` set to now when it was 0, and ``last_seen`` set to now."""
        if not isinstance(record, Record):
            raise InputError(f'put() takes a lazyllm.registry.Record, not '
                             f'{type(record).__name__}.')
        now = time.time()
        record = dataclasses.replace(record, created=record.created or now, last_seen=now)
        values = [_column(f, getattr(record, f)) for f in _FIELDS]
        sql = (f'INSERT OR REPLACE INTO deployments ({", ".join(_FIELDS)}) '
               f'VALUES ({", ".join("?" * len(_FIELDS))})')
        self._run(lambda db: db.execute(sql, values), write=True)
        return record

    def update(self, name: str, /, **fields: Any) -> Record | None:
        """Change some fields of ``name``'s record (``last_seen`` is set to now unless
        given); the updated record, or None when there is no record of that name."""
        check_name(name)
        unknown = sorted(set(fields) - set(_FIELDS))
        if unknown or 'name' in fields:
            raise InputError(f'update() cannot change {", ".join(unknown or ["name"])}; '
                             f'fields: {", ".join(_FIELDS[1:])}. To rename, put() a new '
                             f'record and remove() the old one.')
        fields.setdefault('last_seen', time.time())
        values = {k: _column(k, v) for k, v in fields.items()}
        sets = ', '.join(f'{k} = ?' for k in values)
        select = f'SELECT {", ".join(_FIELDS)} FROM deployments WHERE name = ?'

        def change(db: sqlite3.Connection) -> Any:
            db.execute(f'UPDATE deployments SET {sets} WHERE name = ?', [*values.values(), name])
            return db.execute(select, (name,)).fetchone()
        row = self._run(change, write=True)
        return _record(row) if row is not None else None

    def remove(self, name: str) -> bool:
        """Forget ``name``; False if there was no such record."""
        check_name(name)
        return self._run(lambda db: db.execute('DELETE FROM deployments WHERE name = ?',
                                               (name,)).rowcount > 0, write=True)

    def all(self) -> list[Record]:
        """Every record, oldest first."""
        rows = self._run(lambda db: db.execute(
            f'SELECT {", ".join(_FIELDS)} FROM deployments ORDER BY created, name').fetchall())
        return [_record(r) for r in rows]

    # -- published variants -------------------------------------------------------------
    def publish(self, name: str, base: str, spec: dict) -> Published:
        """Store the variant ``name`` over deployment ``base`` (replacing one of that name)."""
        check_variant_name(name)
        check_name(base)
        try:
            text = json.dumps(spec, sort_keys=True)
        except (TypeError, ValueError) as e:
            raise InputError(f'a variant is stored as JSON data, and this one is not: {e}.') \
                from None
        published = Published(name, base, json.loads(text), time.time())
        self._run(lambda db: db.execute('INSERT OR REPLACE INTO variants VALUES (?, ?, ?, ?)',
                                        (name, base, text, published.created)), write=True)
        return published

    def variants(self) -> list[Published]:
        """Every published variant, by name."""
        rows = self._run(lambda db: db.execute(
            'SELECT name, base, spec, created FROM variants ORDER BY name').fetchall())
        return [Published(n, b, json.loads(s), c) for n, b, s, c in rows]

    def variant(self, name: str) -> Published | None:
        check_variant_name(name)
        row = self._run(lambda db: db.execute(
            'SELECT name, base, spec, created FROM variants WHERE name = ?', (name,)).fetchone())
        return Published(row[0], row[1], json.loads(row[2]), row[3]) if row else None

    def unpublish(self, name: str) -> bool:
        """Forget the variant ``name``; False if there was none."""
        check_variant_name(name)
        return self._run(lambda db: db.execute('DELETE FROM variants WHERE name = ?',
                                               (name,)).rowcount > 0, write=True)

    @contextlib.contextmanager
    def lock(self, name: str, timeout: float = 600) -> Iterator[None]:
        """Hold the lock of deployment ``name`` (across processes and threads) for the
        ``with`` block; wait up to ``timeout`` seconds for whoever holds it, then DeployError.
        """
        check_name(name)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
            raise InputError(f'timeout must be a number of seconds >= 0, got {timeout!r}.')
        from filelock import FileLock, Timeout
        folder = self.path.parent / 'locks'
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ConfigError(f'cannot create the lock folder {folder}: {e}. Check the '
                              f'permissions of {folder.parent} (or set LAZYLLM_HOME).') from e
        path = folder / f'deploy-{name}.lock'
        lock = FileLock(str(path))
        try:
            lock.acquire(timeout=timeout)
        except Timeout:
            raise DeployError(f'deployment {name!r} is locked by another process (deploying '
                              f'or stopping it) for more than {timeout:g} s. Wait and retry; '
                              f'if no lazyllm process runs, delete {path}.') from None
        try:
            yield
        finally:
            lock.release()

    def __repr__(self) -> str:
        return f'<lazyllm.registry.Registry {self.path}>'

    # -- SQLite ---------------------------------------------------------------------------
    def _run(self, op: Callable[[sqlite3.Connection], _T], write: bool = False) -> _T:
        """``op`` in a transaction of its own connection; SQLite errors as ConfigError."""
        import sqlite3
        path = self.path
        try:
            db = self._connect(path)
            try:
                self._ensure_schema(db, path)
                db.execute('BEGIN IMMEDIATE' if write else 'BEGIN')
                try:
                    result = op(db)
                except BaseException:
                    db.execute('ROLLBACK')
                    raise
                db.execute('COMMIT')
                return result
            finally:
                db.close()
        except sqlite3.Error as e:
            raise _wrap(e, path) from e

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        import sqlite3
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ConfigError(f'cannot create the folder of the registry {path}: {e}. Check '
                              f'the permissions of {path.parent} (or set LAZYLLM_HOME).') from e
        if not path.exists():      # it holds launch tokens: readable by its owner only
            with contextlib.suppress(FileExistsError):
                os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        # autocommit mode: transactions are begun and ended explicitly in _run
        db = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT, isolation_level=None)
        db.execute(f'PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}')
        db.execute('PRAGMA synchronous = NORMAL')
        return db

    def _ensure_schema(self, db: sqlite3.Connection, path: Path) -> None:
        """WAL mode and the table, once per file and Registry; refuses a newer schema."""
        if path in self._ready:
            return
        with self._ready_lock:
            if path in self._ready:
                return
            _retry_busy(lambda: _wal(db))
            db.execute('BEGIN IMMEDIATE')
            try:
                version = db.execute('PRAGMA user_version').fetchone()[0]
                if version == 0:
                    db.execute(_SCHEMA)
                    db.execute(_VARIANTS)
                    db.execute(f'PRAGMA user_version = {SCHEMA_VERSION}')
                elif version < SCHEMA_VERSION:
                    for step in range(version, SCHEMA_VERSION):
                        for statement in _MIGRATIONS[step]:
                            db.execute(statement)
                    db.execute(f'PRAGMA user_version = {SCHEMA_VERSION}')
                elif version > SCHEMA_VERSION:
                    raise ConfigError(f'the registry {path} has schema version {version}, made '
                                      f'by a newer lazyllm (this one knows {SCHEMA_VERSION}). '
                                      f'Upgrade lazyllm, or move the file away to start a '
                                      f'new registry.')
            except BaseException:
                db.execute('ROLLBACK')
                raise
            db.execute('COMMIT')
            self._ready.add(path)


def _wal(db: sqlite3.Connection) -> None:
    if db.execute('PRAGMA journal_mode').fetchone()[0] != 'wal':
        db.execute('PRAGMA journal_mode = WAL')


def _retry_busy(op: Callable[[], _T]) -> _T:
    """``op``, retried while SQLite reports busy (switching to WAL does not always wait)."""
    import sqlite3
    deadline = time.monotonic() + BUSY_TIMEOUT
    while True:
        try:
            return op()
        except sqlite3.OperationalError as e:
            if 'locked' not in str(e) and 'busy' not in str(e) \
                    or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _wrap(e: Exception, path: Path) -> ConfigError:
    text = str(e)
    if 'locked' in text or 'busy' in text:
        return ConfigError(f'the registry {path} stayed locked by another process for more '
                           f'than {BUSY_TIMEOUT:g} s ({text}). Retry; if it persists, find '
                           f'the process that holds it (e.g. `fuser {path}`).')
    if 'unable to open' in text or 'readonly' in text:
        return ConfigError(f'cannot open the registry {path}: {text}. Check that its folder '
                           f'exists and is writable (or set LAZYLLM_HOME).')
    return ConfigError(f'the registry {path} is unreadable ({text}): the file is corrupt or '
                       f'not a lazyllm registry. Move it away (`mv {path} {path}.bad`); a new '
                       f'registry is created on next use, and deployments still running must '
                       f'then be stopped by hand.')
