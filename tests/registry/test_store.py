"""The registry store on a real SQLite file: every field round-trips, names are checked,
processes write at the same time without "database is locked", the per-name lock excludes
other processes, and a corrupt file is a ConfigError with the fix."""
import dataclasses
import json
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from lazyllm.errors import ConfigError, DeployError, InputError
from lazyllm.registry import SCHEMA_VERSION, Record, Registry, check_name


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    home = tmp_path / 'lazyllm-home'
    monkeypatch.setenv('LAZYLLM_HOME', str(home))
    return home


def _full(name='qwen', **kw):
    values = dict(name=name, model='Qwen/Qwen2-0.5B', path='/models/qwen', type='llm',
                  engine='vllm', options={'max_model_len': 4096, 'tp': [1, 2], 'x': None},
                  config_hash='abc123', url='http://127.0.0.1:8000/v1/', pid=12345,
                  job_id='12345', launcher='local', log_path='/logs/qwen.log', owner_pid=999,
                  detached=True, status='running', created=1000.5, last_seen=0.0)
    values.update(kw)
    return Record(**values)


def test_default_path_is_in_the_home_and_nothing_is_created_before_use(home):
    reg = Registry()
    assert reg.path == home / 'registry.db'
    assert not home.exists()
    assert reg.get('nothing') is None and reg.all() == []
    assert (home / 'registry.db').is_file()


def test_every_field_round_trips(home):
    reg = Registry()
    before = time.time()
    stored = reg.put(_full())
    assert stored.created == 1000.5 and stored.last_seen >= before  # created kept if given
    got = reg.get('qwen')
    assert got == stored
    for f in dataclasses.fields(Record):
        assert getattr(got, f.name) == getattr(stored, f.name), f.name
    assert isinstance(got.detached, bool) and isinstance(got.pid, int)

    minimal = reg.put(Record(name='m', model='/models/m'))
    assert minimal.created >= before and minimal.last_seen == minimal.created
    got = reg.get('m')
    assert got == minimal and got.pid is None and got.owner_pid is None
    assert got.options == {} and got.detached is False and got.status == 'starting'
    assert got.launcher == 'local' and got.created >= before


def test_put_replaces_update_changes_remove_forgets():
    reg = Registry()
    reg.put(_full())
    reg.put(_full(model='other', status='starting', pid=None))
    assert reg.get('qwen').model == 'other' and reg.get('qwen').pid is None
    assert len(reg.all()) == 1

    seen = reg.get('qwen').last_seen
    time.sleep(0.01)
    rec = reg.update('qwen', status='running', url='http://h:1/v1/', pid=77,
                     options={'a': 1}, detached=False)
    assert rec == reg.get('qwen')
    assert (rec.status, rec.url, rec.pid, rec.options, rec.detached) == \
        ('running', 'http://h:1/v1/', 77, {'a': 1}, False)
    assert rec.last_seen > seen and rec.model == 'other'
    assert reg.update('qwen', last_seen=5.0).last_seen == 5.0
    assert reg.update('missing', status='failed') is None

    assert reg.remove('qwen') is True
    assert reg.remove('qwen') is False and reg.get('qwen') is None


def test_all_is_ordered_by_created():
    reg = Registry()
    reg.put(_full('b', created=3.0))
    reg.put(_full('a', created=2.0))
    reg.put(Record(name='now', model='m'))  # created = now
    reg.put(_full('c', created=1.0))
    assert [r.name for r in reg.all()] == ['c', 'a', 'b', 'now']


def test_names_and_fields_are_validated():
    assert check_name('Qwen2.5-7b_instruct') == 'Qwen2.5-7b_instruct'
    assert check_name('x' * 64)
    reg = Registry()
    for bad in ('', 'x' * 65, 'a/b', 'a b', 'ü', '../x', None, 3):
        with pytest.raises(InputError, match='1 to 64 letters'):
            check_name(bad)
        with pytest.raises(InputError, match='1 to 64 letters'):
            reg.get(bad)
        with pytest.raises(InputError, match='1 to 64 letters'):
            reg.put(Record(name=bad, model='m'))
    with pytest.raises(InputError, match='status must be one of'):
        reg.put(Record(name='n', model='m', status='bogus'))
    with pytest.raises(InputError, match='JSON'):
        reg.put(Record(name='n', model='m', options={'f': object()}))
    with pytest.raises(InputError, match='pid must be an int'):
        reg.put(Record(name='n', model='m', pid='12'))
    with pytest.raises(InputError, match='cannot change nope'):
        reg.update('n', nope=1)
    with pytest.raises(InputError, match='cannot change name'):
        reg.update('n', name='other')
    with pytest.raises(InputError, match='takes a lazyllm.registry.Record'):
        reg.put({'name': 'n'})
    assert reg.all() == []


def test_wal_mode_and_schema_version(tmp_path):
    path = tmp_path / 'explicit' / 'reg.db'
    reg = Registry(path)
    reg.put(Record(name='x', model='m'))
    db = sqlite3.connect(path)
    try:
        assert db.execute('PRAGMA journal_mode').fetchone()[0] == 'wal'
        assert db.execute('PRAGMA user_version').fetchone()[0] == SCHEMA_VERSION == 3
    finally:
        db.close()


def test_a_corrupt_file_is_a_config_error_naming_the_file_and_the_fix(tmp_path):
    path = tmp_path / 'registry.db'
    path.write_bytes(b'this is not a database, only text that looks nothing like one' * 100)
    with pytest.raises(ConfigError) as e:
        Registry(path).all()
    assert str(path) in str(e.value) and 'Move it away' in str(e.value)
    assert isinstance(e.value.__cause__, sqlite3.DatabaseError)


def test_a_version_1_registry_is_migrated_in_place(tmp_path):
    """A registry written before launch tokens (schema 1) gains the column; its rows keep
    their values and read back with an empty token."""
    path = tmp_path / 'registry.db'
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE deployments (name TEXT PRIMARY KEY NOT NULL, model TEXT NOT NULL, "
               "path TEXT NOT NULL DEFAULT '', type TEXT NOT NULL DEFAULT '', engine TEXT NOT "
               "NULL DEFAULT '', options TEXT NOT NULL DEFAULT '{}', config_hash TEXT NOT NULL "
               "DEFAULT '', url TEXT NOT NULL DEFAULT '', pid INTEGER, job_id TEXT NOT NULL "
               "DEFAULT '', launcher TEXT NOT NULL DEFAULT 'local', log_path TEXT NOT NULL "
               "DEFAULT '', owner_pid INTEGER, detached INTEGER NOT NULL DEFAULT 0, status TEXT "
               "NOT NULL DEFAULT 'starting', created REAL NOT NULL DEFAULT 0, last_seen REAL NOT "
               "NULL DEFAULT 0)")
    db.execute("INSERT INTO deployments (name, model, url, status) VALUES "
               "('old', '/models/m', 'http://127.0.0.1:9/v1/', 'running')")
    db.execute('PRAGMA user_version = 1')
    db.commit()
    db.close()
    reg = Registry(path)
    old = reg.get('old')
    assert (old.model, old.url, old.status, old.token) == ('/models/m',
                                                          'http://127.0.0.1:9/v1/', 'running', '')
    assert reg.update('old', token='t0k').token == 't0k'
    assert reg.variants() == []                       # schema 3: the variants table
    db = sqlite3.connect(path)
    assert db.execute('PRAGMA user_version').fetchone()[0] == SCHEMA_VERSION
    db.close()


def test_published_variants_are_stored_as_data(tmp_path):
    reg = Registry(tmp_path / 'r.db')
    spec = {'prompt': {'kind': 'ChatPrompter', 'instruction': 'Be brief.'},
            'sampling': {'temperature': 0}}
    stored = reg.publish('smol:geo', 'smol', spec)
    assert stored.spec == spec and stored.created > 0
    assert Registry(tmp_path / 'r.db').variant('smol:geo') == stored     # another reader
    reg.publish('smol:geo', 'smol', {'sampling': {'temperature': 1}})     # replaced
    assert [(v.name, v.spec) for v in reg.variants()] == [
        ('smol:geo', {'sampling': {'temperature': 1}})]
    assert reg.unpublish('smol:geo') and not reg.unpublish('smol:geo')
    assert reg.variant('smol:geo') is None
    with pytest.raises(InputError, match='not valid'):
        reg.publish('smol geo', 'smol', {})
    with pytest.raises(InputError, match='JSON'):
        reg.publish('x', 'smol', {'format': object()})


def test_a_new_registry_file_is_readable_by_its_owner_only(tmp_path):
    import stat
    reg = Registry(tmp_path / 'fresh.db')
    reg.all()
    assert stat.S_IMODE(reg.path.stat().st_mode) == 0o600


def test_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / 'registry.db'
    db = sqlite3.connect(path)
    db.execute('PRAGMA user_version = 99')
    db.close()
    with pytest.raises(ConfigError, match='newer lazyllm'):
        Registry(path).get('x')


def test_threads_share_one_registry():
    reg = Registry()
    errors = []

    def work(i):
        try:
            for j in range(20):
                reg.put(Record(name=f't{i}-{j}', model='m'))
                reg.update(f't{i}-{j}', status='running')
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(reg.all()) == 80 and {r.status for r in reg.all()} == {'running'}


WRITER = '''
import sys
from lazyllm.registry import Record, Registry
reg, w = Registry(sys.argv[1]), sys.argv[2]
for i in range(50):
    reg.put(Record(name=f'w{w}-{i}', model='m', pid=i))
    reg.update(f'w{w}-{i}', status='running', url=f'http://h/{i}/v1/')
    reg.all()
'''


def test_concurrent_writer_processes(tmp_path):
    path = tmp_path / 'registry.db'
    procs = [subprocess.Popen([sys.executable, '-c', WRITER, str(path), str(w)],
                              stderr=subprocess.PIPE, text=True) for w in range(4)]
    try:
        for p in procs:
            assert p.wait(120) == 0, p.stderr.read()
    finally:
        for p in procs:
            p.kill()
            p.wait()
    records = Registry(path).all()
    assert sorted(r.name for r in records) == sorted(f'w{w}-{i}' for w in range(4)
                                                     for i in range(50))
    assert all(r.status == 'running' and r.url == f'http://h/{r.pid}/v1/' for r in records)


LOCKER = '''
import json, sys, time
from lazyllm.registry import Registry
reg, out = Registry(sys.argv[1]), sys.argv[2]
with reg.lock('x'):
    start = time.time()
    time.sleep(0.5)
    end = time.time()
    with open(out, 'a') as f:
        f.write(json.dumps([start, end]) + '\\n')
'''


def test_the_lock_excludes_other_processes(tmp_path, home):
    path, out = home / 'registry.db', tmp_path / 'intervals.jsonl'
    procs = [subprocess.Popen([sys.executable, '-c', LOCKER, str(path), str(out)],
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        for p in procs:
            assert p.wait(60) == 0, p.stderr.read()
    finally:
        for p in procs:
            p.kill()
            p.wait()
    (a_start, a_end), (b_start, b_end) = sorted(json.loads(line)
                                                for line in out.read_text().splitlines())
    assert a_end <= b_start  # the second waited for the first to leave
    assert (home / 'locks' / 'deploy-x.lock').exists()


def test_the_lock_times_out_and_is_per_name():
    reg = Registry()
    held, release = threading.Event(), threading.Event()

    def holder():
        with reg.lock('busy'):
            held.set()
            release.wait(10)
    t = threading.Thread(target=holder)
    t.start()
    try:
        assert held.wait(10)
        start = time.monotonic()
        with pytest.raises(DeployError, match="'busy' is locked by another process"):
            with reg.lock('busy', timeout=0.3):
                pass
        assert time.monotonic() - start < 2
        with reg.lock('other', timeout=1):  # another name is not blocked
            pass
    finally:
        release.set()
        t.join()
    with reg.lock('busy', timeout=1):
        pass
    with pytest.raises(InputError):
        reg.lock('a/b').__enter__()


def test_sqlite_and_filelock_load_on_first_use_only():
    code = ('import sys, lazyllm, lazyllm.registry as r; a = "sqlite3" in sys.modules; '
            'r.Registry().path; print(a, "sqlite3" in sys.modules, "filelock" in sys.modules)')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         check=True).stdout
    assert out.split() == ['False', 'False', 'False']
