"""The supplier table and key resolution: which supplier, which key, which error."""
from __future__ import annotations

import pytest

import lazyllm
from lazyllm.errors import ConfigError, InputError
from lazyllm.module.online import OnlineChatModule, Supplier, register_supplier, suppliers

BUILTIN = ['openai', 'qwen', 'glm', 'kimi', 'deepseek', 'doubao', 'siliconflow', 'sensenova',
           'minimax', 'ppio', 'claude']


def test_every_supplier_of_the_issue_is_a_table_entry():
    assert set(BUILTIN) <= set(suppliers)
    for s in suppliers.values():
        assert s.base_url.startswith('https://') and s.base_url.endswith('/')
        assert s.key_env == f'LAZYLLM_{(s.key_from or s.name).upper()}_API_KEY'
        assert s.models.get('llm'), f'{s.name} has no default chat model'


def test_explicit_key_wins_over_the_env_var(monkeypatch):
    monkeypatch.setenv('LAZYLLM_QWEN_API_KEY', 'sk-from-env-000')
    m = OnlineChatModule(source='qwen', api_key='sk-explicit-111')
    assert m._clients.api(m.base_url)._api_key == 'sk-explicit-111'


def test_the_source_env_var_gives_the_key(monkeypatch):
    monkeypatch.setenv('LAZYLLM_GLM_API_KEY', 'sk-glm-222')
    m = OnlineChatModule(source='glm')
    assert (m.source, m.model) == ('glm', 'glm-4-flash')
    assert m.base_url == 'https://open.bigmodel.cn/api/paas/v4/'
    assert m._clients.api(m.base_url)._api_key == 'sk-glm-222'


def test_default_source_names_the_supplier(monkeypatch):
    monkeypatch.setenv('LAZYLLM_OPENAI_API_KEY', 'sk-openai-333')
    monkeypatch.setenv('LAZYLLM_DEEPSEEK_API_KEY', 'sk-deepseek-444')
    monkeypatch.setenv('LAZYLLM_DEFAULT_SOURCE', 'deepseek')
    assert OnlineChatModule().source == 'deepseek'


def test_else_the_first_source_with_a_key(monkeypatch):
    monkeypatch.setenv('LAZYLLM_KIMI_API_KEY', 'sk-kimi-555')
    monkeypatch.setenv('LAZYLLM_SENSENOVA_API_KEY', 'sk-nova-666')
    order = list(suppliers)
    first = min(('kimi', 'sensenova'), key=order.index)
    assert OnlineChatModule().source == first


def test_no_key_anywhere_lists_the_variables_to_set():
    with pytest.raises(ConfigError) as e:
        OnlineChatModule()
    for name in BUILTIN:
        assert f'LAZYLLM_{name.upper()}_API_KEY' in str(e.value)


def test_a_named_source_without_key_says_which_variable():
    with pytest.raises(ConfigError, match='LAZYLLM_QWEN_API_KEY'):
        OnlineChatModule(source='qwen')


def test_a_key_from_the_config_file(lazyllm_home, monkeypatch):
    (lazyllm_home / 'config.yaml').write_text('doubao_api_key: sk-file-777\n')
    try:
        m = OnlineChatModule(source='doubao')
        assert m._clients.api(m.base_url)._api_key == 'sk-file-777'
    finally:
        (lazyllm_home / 'config.yaml').unlink()


def test_base_url_without_source_needs_no_key_and_sends_no_stored_key(monkeypatch):
    monkeypatch.setenv('LAZYLLM_QWEN_API_KEY', 'sk-qwen-888')
    m = OnlineChatModule(base_url='127.0.0.1:9999')
    assert m.source == 'openai' and m.model is None
    assert m.base_url == 'http://127.0.0.1:9999/v1/'
    assert m._clients.api(m.base_url)._api_key is None


def test_a_missing_trailing_slash_is_not_an_error():
    m = OnlineChatModule(source='openai', base_url='http://127.0.0.1:1234/v1', api_key='sk-x-1')
    assert m.base_url == 'http://127.0.0.1:1234/v1/'


@pytest.mark.parametrize('kwargs, words', [
    (dict(source='qwenn', api_key='k123'), "did you mean 'qwen'"),
    (dict(api_key='k123'), 'without source='),
    (dict(source='qwen', api_key=''), 'api_key must be a non-empty str'),
    (dict(source='deepseek', api_key='k123', type='vlm'), 'offers no vlm'),
    (dict(source='qwen', api_key='k123', type='embed'), 'not an online call type'),
    (dict(source='qwen', api_key='k123', model=''), 'model must be a non-empty str'),
    (dict(source='qwen', api_key='k123', colour='red'), "unknown sampling option(s) ['colour']"),
    (dict(source='qwen', api_key='k123', static_params=[1]), 'static_params must be a dict'),
    (dict(source='qwen', api_key='k123', base_url='ftp://x'), 'unsupported scheme'),
])
def test_bad_arguments_are_input_errors_that_name_the_fix(kwargs, words):
    with pytest.raises(InputError) as e:
        OnlineChatModule(**kwargs)
    assert words in str(e.value)


def test_a_plugin_supplier_registers_like_the_builtins(monkeypatch):
    acme = Supplier('acmetest', 'https://api.acme.test/v1/', {'llm': 'acme-chat'})
    register_supplier(acme)
    try:
        monkeypatch.setenv('LAZYLLM_ACMETEST_API_KEY', 'sk-acme-999')
        m = OnlineChatModule(source='acmetest')
        assert (m.model, m.base_url) == ('acme-chat', 'https://api.acme.test/v1/')
        with pytest.raises(InputError, match='already registered'):
            register_supplier(acme)
    finally:
        del suppliers['acmetest']


def test_keys_never_show_in_reprs(monkeypatch):
    monkeypatch.setenv('LAZYLLM_QWEN_API_KEY', 'sk-secret-qwen-key')
    m = OnlineChatModule(source='qwen')
    assert 'sk-secret-qwen-key' not in repr(m)
    assert 'api_key=***' in repr(m)
    assert 'sk-secret-qwen-key' not in repr(lazyllm.config)


def test_the_native_dashscope_source_uses_the_qwen_key(monkeypatch):
    monkeypatch.setenv('LAZYLLM_QWEN_API_KEY', 'sk-qwen-native-1')
    m = OnlineChatModule(source='dashscope')
    assert m.base_url == 'https://dashscope.aliyuncs.com/api/v1/'
    assert m._clients.api(m.base_url)._api_key == 'sk-qwen-native-1'
    assert OnlineChatModule().source == 'qwen'      # the table order: qwen comes first
