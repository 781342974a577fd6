"""lazyllm._registry.Registry, the one table behind engines, suppliers, finetune methods,
launchers and commands: names and aliases, replace=True, unknown names, and entry points of a
real ``*.dist-info`` folder put on sys.path (importlib.metadata reads it at lookup)."""
from __future__ import annotations

import sys
import threading
from types import SimpleNamespace as Thing

import pytest

from lazyllm._registry import Registry
from lazyllm.errors import ConfigError, InputError


def admit(name: str, obj: Thing) -> None:
    if not isinstance(obj, Thing):
        raise InputError(f'thing {name!r} must be a Thing, not {type(obj).__name__}')


def table(group: str | None = None) -> Registry[Thing]:
    return Registry('thing', group, admit=admit, hint=', or make one')


def test_names_aliases_and_lookup():
    things = table()
    lora = things.register(Thing(name='LoRA'), aliases=('alpacalora',))
    things.register(Thing(name='qlora'))
    assert things.get('lora') is things['ALPACALORA'] is lora
    assert things.names() == ['lora', 'qlora'] and list(things) == ['lora', 'qlora']
    assert 'alpacalora' in things and 42 not in things and len(things) == 2
    assert things.get('nope', None) is None and things.items()[0] == ('lora', lora)
    with pytest.raises(InputError, match=r"unknown thing 'lorra' \(did you mean 'lora'"
                                         r"(.*)\): use one of lora, qlora, or make one$"):
        things.get('lorra')
    with pytest.raises(InputError, match='unknown thing 42'):
        things.get(42)


def test_a_taken_name_or_alias_needs_replace():
    things = table()
    old = things.register(Thing(name='lora'), aliases=('alpacalora',))
    for name, aliases, taken in (('lora', (), "'lora' is already registered (namespace("),
                                 ('other', ('alpacalora',), "'alpacalora' is already "
                                                            "registered as an alias of 'lora'")):
        with pytest.raises(InputError) as e:
            things.register(Thing(name=name), aliases=aliases)
        assert taken in str(e.value) and 'pass replace=True to replace it' in str(e.value)
    assert things.names() == ['lora']
    again = things.register(Thing(name='lora'), aliases=('alpacalora',), replace=True)
    assert things['alpacalora'] is again is not old
    new = things.register(Thing(name='lora'), replace=True)      # the new entry's aliases count
    assert things['lora'] is new and 'alpacalora' not in things
    del things['lora']
    assert 'lora' not in things
    with pytest.raises(InputError, match="unknown thing 'lora'"):
        del things['lora']


def test_an_entry_is_registered_under_its_own_name_and_checked():
    things = table()
    with pytest.raises(InputError, match="thing 'a' cannot be registered as 'b'"):
        things.register(Thing(name='a'), name='b')
    with pytest.raises(InputError, match='must be a Thing, not str'):
        things.register('text', name='text')
    with pytest.raises(InputError, match='a thing name must be a non-empty str'):
        things.register(Thing(name=''))
    assert things.names() == []


@pytest.fixture
def plugins(tmp_path, monkeypatch):
    """A package declaring three things: one good, one whose module is missing, one named
    like a built-in."""
    (tmp_path / 'thing_plugin.py').write_text(
        'from types import SimpleNamespace as Thing\n'
        'good = Thing(name="good")\nbuiltin = Thing(name="builtin")\n', encoding='utf-8')
    info = tmp_path / 'thing_plugin-1.0.dist-info'
    info.mkdir()
    (info / 'METADATA').write_text('Metadata-Version: 2.1\nName: thing-plugin\nVersion: 1.0\n',
                                   encoding='utf-8')
    (info / 'entry_points.txt').write_text(
        '[lazyllm_test.things]\ngood = thing_plugin:good\nbroken = thing_missing:thing\n'
        'builtin = thing_plugin:builtin\n', encoding='utf-8')
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    sys.modules.pop('thing_plugin', None)


def test_plugins_load_once_on_an_unknown_name_and_a_broken_one_names_itself(plugins, caplog):
    things = table('lazyllm_test.things')
    builtin = things.register(Thing(name='builtin'))
    assert things.get('builtin') is builtin                 # known: no plugin read yet
    assert 'thing_plugin' not in sys.modules
    results: list = []
    threads = [threading.Thread(target=lambda: results.append(things.get('good')))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 and all(r is results[0] for r in results)
    assert things.names() == ['builtin', 'good'] and things['builtin'] is builtin
    with pytest.raises(ConfigError) as e:
        things.get('broken')
    assert ("the thing plugin 'broken' (entry point broken = \"thing_missing:thing\" in the "
            "group 'lazyllm_test.things' of the package thing-plugin) failed to load: "
            "ModuleNotFoundError: No module named 'thing_missing'") in str(e.value)
    assert isinstance(e.value.__cause__, ModuleNotFoundError)
    warned = [r.getMessage() for r in caplog.records if r.name == 'lazyllm']
    assert len(warned) == 2                                  # broken, and builtin refused
    assert any("'builtin' is already registered" in w for w in warned)
