"""Plugins: a real third-party package (package/acme_lazyllm, beside a ``*.dist-info`` folder
written here) seen by importlib.metadata in a fresh interpreter, each of its entry points used
through lazyllm's public API (scenario.py): its engine serves the tiny LLM, its supplier
answers from that engine, its finetune method runs its own job through its launcher, its
command runs on lazyllm's command line. One engine start."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
ENTRY_POINTS = """\
[lazyllm.engines]
plugin_echo = acme_lazyllm.engine:echo
plugin_broken = acme_lazyllm.missing:engine

[lazyllm.suppliers]
plugin_acme = acme_lazyllm.supplier:acme

[lazyllm.finetune_methods]
acme_copy = acme_lazyllm.finetune:copy

[lazyllm.launchers]
acme_local = acme_lazyllm.launcher:AcmeLauncher

[lazyllm.commands]
acme-hello = acme_lazyllm.command:hello
"""


def install(site: Path) -> Path:
    """The package and its metadata in ``site``, as pip would lay them out."""
    shutil.copytree(HERE / 'package' / 'acme_lazyllm', site / 'acme_lazyllm')
    info = site / 'acme_lazyllm-0.1.0.dist-info'
    info.mkdir()
    (info / 'METADATA').write_text('Metadata-Version: 2.1\nName: acme-lazyllm\n'
                                   'Version: 0.1.0\n', encoding='utf-8')
    (info / 'entry_points.txt').write_text(ENTRY_POINTS, encoding='utf-8')
    return site


def run(site: Path, *argv: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join(
        [str(site), *filter(None, [os.environ.get('PYTHONPATH')])])}
    return subprocess.run([sys.executable, *argv], capture_output=True, text=True, env=env,
                          timeout=timeout)


@pytest.fixture(scope='module')
def scenario(tiny_llm_path, tmp_path_factory):
    """(what scenario.py saw, its stderr)."""
    tmp = tmp_path_factory.mktemp('plugins')
    site = install(tmp / 'site')
    proc = run(site, str(HERE / 'scenario.py'), str(tiny_llm_path), str(tmp / 'runs'))
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.splitlines()[-1]), proc.stderr


@pytest.fixture
def seen(scenario):
    return scenario[0]


def test_nothing_is_loaded_by_import_lazyllm(seen):
    assert seen['imported_by_lazyllm'] is False


def test_the_plugin_engine_serves_a_model(seen):
    names = seen['engines']        # built-ins register at import, plugins on first listing
    assert 'plugin_echo' in names and names.index('plugin_echo') > names.index('transformers')
    assert 'plugin_broken' not in seen['engines']
    assert isinstance(seen['engine_answer'], str) and seen['engine_answer']


def test_the_plugin_supplier_answers_from_that_engine(seen):
    assert seen['supplier_loaded_before_use'] is False     # loaded when first asked for
    source, base_url, engine_url = seen['supplier']
    assert source == 'plugin_acme' and base_url.rstrip('/') == engine_url.rstrip('/')
    assert seen['supplier_answer'] == seen['engine_answer']   # greedy, same engine


def test_a_duplicate_is_refused_with_the_replace_hint(seen):
    assert "engine 'plugin_echo' is already registered" in seen['duplicate']
    assert 'pass replace=True' in seen['duplicate'] and seen['replaced'] is True


def test_a_broken_plugin_names_itself_and_breaks_nothing_else(scenario):
    seen, stderr = scenario
    for words in ("engine plugin 'plugin_broken'", 'plugin_broken = "acme_lazyllm.missing:engine"',
                  "group 'lazyllm.engines'", 'package acme-lazyllm',
                  "ModuleNotFoundError: No module named 'acme_lazyllm.missing'",
                  'Update or reinstall acme-lazyllm'):
        assert words in seen['broken']
    assert stderr.count("engine plugin 'plugin_broken'") == 1   # said once, when loaded


def test_the_plugin_finetune_method_runs_its_job_through_the_plugin_launcher(seen):
    assert seen['finetune'] == {'steps': 1, 'launcher': '1'}
    assert seen['launcher'] == 'AcmeLauncher'


def test_the_plugin_command_runs_on_the_command_line(seen, tmp_path):
    assert (seen['command_exit'], seen['command_output']) == (0, 'hello plugins, from acme\n')
    listed = run(install(tmp_path / 'site'), '-m', 'lazyllm', '--help')
    assert listed.returncode == 0 and 'acme-hello' in listed.stdout
