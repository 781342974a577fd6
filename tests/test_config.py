import os
import subprocess
import sys

import pytest

import lazyllm
from lazyllm._config import Config
from lazyllm.errors import ConfigError


@pytest.fixture
def cfg(tmp_path, monkeypatch):
    monkeypatch.setenv('LAZYLLM_HOME', str(tmp_path))
    c = Config()
    c.add('timeout', 10.0, float, 'seconds')
    c.add('api_key', None, str, 'a key', secret=True)
    c.add('debug', False, bool)
    return c


def test_precedence_keyword_code_env_file_default(cfg, tmp_path, monkeypatch):
    assert cfg.lookup('timeout') == (10.0, 'default')
    (tmp_path / 'config.yaml').write_text('timeout: 20\n')
    assert cfg.lookup('timeout') == (20.0, 'config file')
    monkeypatch.setenv('LAZYLLM_TIMEOUT', '30')
    assert cfg.lookup('timeout') == (30.0, 'LAZYLLM_TIMEOUT')
    cfg['timeout'] = 40
    assert cfg.lookup('timeout') == (40.0, 'set in code')
    assert cfg.resolve('timeout', 50) == 50.0
    assert cfg.resolve('timeout', None) == 40.0
    cfg.reset('timeout')
    assert cfg['timeout'] == 30.0


def test_values_are_read_when_used_not_cached(cfg, monkeypatch):
    monkeypatch.setenv('LAZYLLM_DEBUG', 'yes')
    assert cfg['debug'] is True
    monkeypatch.setenv('LAZYLLM_DEBUG', 'off')
    assert cfg['debug'] is False


def test_override_block_restores(cfg):
    with cfg.override(timeout=1):
        assert cfg['timeout'] == 1.0
    assert cfg['timeout'] == 10.0


def test_bad_values_name_the_source_and_fix(cfg, tmp_path, monkeypatch):
    monkeypatch.setenv('LAZYLLM_TIMEOUT', 'soon')
    with pytest.raises(ConfigError, match='LAZYLLM_TIMEOUT sets timeout to .soon.'):
        cfg['timeout']
    monkeypatch.delenv('LAZYLLM_TIMEOUT')
    (tmp_path / 'config.yaml').write_text('- a list\n')
    with pytest.raises(ConfigError, match='must hold a mapping'):
        cfg['timeout']
    (tmp_path / 'config.yaml').write_text('timeout: [\n')
    with pytest.raises(ConfigError, match='Fix the YAML'):
        cfg['timeout']
    with pytest.raises(ConfigError, match='unknown setting'):
        cfg['nope']
    with pytest.raises(ConfigError, match='already registered differently'):
        cfg.add('timeout', 1, int)


def test_show_masks_secrets(cfg, monkeypatch):
    monkeypatch.setenv('LAZYLLM_API_KEY', 'sk-very-secret')
    rows = {name: (value, source) for name, value, source in cfg.show()}
    assert rows['api_key'] == ('***', 'LAZYLLM_API_KEY')
    assert 'sk-very-secret' not in repr(cfg.show())
    with pytest.raises(ConfigError) as info:
        cfg.add('n', 0, int, secret=True).parse('sk-very-secret', 'X')
    assert 'sk-very-secret' not in str(info.value)


def test_global_config_has_the_core_settings():
    names = {row[0] for row in lazyllm.config.show()}
    assert {'timeout', 'connect_timeout', 'max_retries', 'log_level', 'max_workers'} <= names


def test_a_file_key_that_is_no_setting_names_the_nearest(cfg, tmp_path):
    (tmp_path / 'config.yaml').write_text('timout: 3\n')
    with pytest.raises(ConfigError) as e:
        cfg['timeout']
    msg = str(e.value)
    assert "sets 'timout'" in msg and str(tmp_path / 'config.yaml') in msg
    assert "did you mean 'timeout'?" in msg and 'Fix or remove the key' in msg
    (tmp_path / 'config.yaml').write_text('zzzz: 1\nqqqq: 2\n')
    with pytest.raises(ConfigError, match=r"sets 'zzzz' \(and \['qqqq'\]\), which is no lazyllm "
                                          r'setting\. Fix'):
        cfg['debug']


def test_file_keys_of_layers_not_imported_yet_are_known(tmp_path):
    """The real config: a setting registered by a layer that was not imported yet (an API key
    of a supplier, vllm_python) is no typo; the check imports the layers first."""
    (tmp_path / 'config.yaml').write_text('qwen_api_key: sk-x\nvllm_python: ""\ntimeout: 7\n')
    code = ('import sys, lazyllm; print(lazyllm.config["timeout"]); '
            'print("torch" in sys.modules, "transformers" in sys.modules)')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         env={**os.environ, 'LAZYLLM_HOME': str(tmp_path)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ['7.0', 'False', 'False']
    (tmp_path / 'config.yaml').write_text('timout: 3\n')
    out = subprocess.run([sys.executable, '-m', 'lazyllm', 'config', 'show'],
                         capture_output=True, text=True,
                         env={**os.environ, 'LAZYLLM_HOME': str(tmp_path)})
    assert out.returncode == 1 and "did you mean 'timeout'?" in out.stderr


def test_every_setting_the_code_adds_is_known_after_register_all():
    """config.yaml keys are checked against the settings: a layer that adds one must be in
    the list register_all() imports, or its key would look like a typo."""
    import re
    from pathlib import Path

    from lazyllm import config
    root = Path(__file__).resolve().parents[1] / 'lazyllm'
    added = {m for f in root.rglob('*.py')
             for m in re.findall(r"config\.add\(\s*'(\w+)'", f.read_text(encoding='utf-8'))}
    config.register_all()
    assert added and added <= {name for name, _, _ in config.show()}
