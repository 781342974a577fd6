"""AutoModel: each routing rule, the YAML config map, explain(), keyword checks, and calls end
to end against a real OpenAI-compatible server on 127.0.0.1. Real objects, no mocks.
AutoModel returns the module itself: a TrainableModule or an online module of the call type."""
import asyncio
import subprocess
import sys

import pytest

import lazyllm
from lazyllm import AutoModel
from lazyllm.errors import ConfigError, InputError
from lazyllm.module.online import OnlineChatModule, OnlineEmbeddingModule
from tests.servers.openai_server import OpenAIServer

KEY = 'sk-automodel-test-0123456789'


pytestmark = pytest.mark.usefixtures('no_online_keys')


@pytest.fixture
def qwen_key(monkeypatch):
    monkeypatch.setenv('LAZYLLM_QWEN_API_KEY', KEY)


def write(tmp_path, text, name='map.yaml'):
    path = tmp_path / name
    path.write_text(text)
    return path


def local(m):
    assert type(m) is lazyllm.TrainableModule
    return m.deployment


def online(m, cls=OnlineChatModule):
    assert type(m) is cls
    return m


# -- rules without a map -----------------------------------------------------------------------
def test_a_supplier_name_is_its_default_model(qwen_key):
    m = online(AutoModel('qwen'))
    assert (m.source, m.model, m.type) == ('qwen', 'qwen-plus', 'llm')
    e = online(AutoModel('qwen', type='embed'), OnlineEmbeddingModule)
    assert (e.source, e.model, e.type) == ('qwen', 'text-embedding-v3', 'embed')


def test_source_names_the_online_supplier(monkeypatch):
    monkeypatch.setenv('LAZYLLM_GLM_API_KEY', KEY)
    m = online(AutoModel('glm-4-plus', source='glm', temperature=0.3))
    assert (m.source, m.model, m.type) == ('glm', 'glm-4-plus', 'llm')


def test_the_decision_is_built_as_decided(monkeypatch):
    """AutoModel decides the call type once; the module it returns is of that class, and
    OnlineModule's url= spelling reaches it as base_url."""
    monkeypatch.setenv('LAZYLLM_OPENAI_API_KEY', 'sk-test-0123456789')
    decision = AutoModel.decide('text-embedding-3-small', source='openai',
                                url='http://127.0.0.1:9/v1/')
    assert (decision.kind, decision.call_type) == ('online', 'embed')
    m = AutoModel('text-embedding-3-small', source='openai', url='http://127.0.0.1:9/v1/')
    assert type(m) is OnlineEmbeddingModule and m.base_url == 'http://127.0.0.1:9/v1/'


def test_base_url_without_source_is_an_openai_endpoint():
    m = online(AutoModel('my-served-model', base_url='http://127.0.0.1:9/v1/'))
    assert (m.source, m.base_url) == ('openai', 'http://127.0.0.1:9/v1/')


def test_source_local_path_and_catalog_name_are_local(tmp_path, qwen_key):
    assert local(AutoModel('my-model', source='local')).model == 'my-model'
    assert local(AutoModel(tmp_path)).model == str(tmp_path)   # a path wins over the key
    assert local(AutoModel('qwen2-0.5b')).model == 'qwen2-0.5b'


def test_unknown_name_goes_online_when_a_key_exists(qwen_key):
    m = online(AutoModel('some-model', stream=True))
    assert (m.source, m.model) == ('qwen', 'some-model')
    assert m.stream_options.enabled
    assert 'LAZYLLM_QWEN_API_KEY' in AutoModel.explain('some-model')


def test_unknown_name_is_local_without_any_key():
    m = AutoModel('some-model')
    assert local(m).model == 'some-model' and m.status == 'stopped'
    assert 'no online supplier has an API key' in AutoModel.explain('some-model')


def test_no_model_is_the_default_source_or_an_error(qwen_key, monkeypatch):
    assert (AutoModel().source, AutoModel().model) == ('qwen', 'qwen-plus')
    monkeypatch.delenv('LAZYLLM_QWEN_API_KEY')
    with pytest.raises(InputError, match='pass a model name or path'):
        AutoModel()


def test_url_attaches_a_local_model_and_framework_sets_the_engine():
    m = AutoModel('m', framework='vllm', deploy_config={'max_model_len': 2048},
                  url='http://127.0.0.1:8000/v1/')
    dep = local(m)
    assert (dep.given_url, dep.engine.name, dep.options) == \
        ('http://127.0.0.1:8000/v1/', 'vllm', {'max_model_len': 2048})
    with pytest.raises(InputError) as e:
        AutoModel('m', framework='nope')
    from lazyllm.deploy import engines
    assert 'use one of ' + ', '.join(['auto', *sorted(engines)]) in str(e.value)


# -- every keyword reaches the module or raises -------------------------------------------------
def test_unknown_keywords_raise_on_both_paths(qwen_key, tmp_path):
    with pytest.raises(InputError, match=r"\['colour'\].*OnlineChatModule"):
        AutoModel('qwen', colour='red')
    with pytest.raises(InputError, match=r"\['colour'\].*TrainableModule.*trust_remote_code"):
        AutoModel(tmp_path, colour='red')
    with pytest.raises(InputError, match='static_params'):
        AutoModel('m', source='local', static_params={'a': 1})


# -- the config map -----------------------------------------------------------------------------
MAP = """
qwen-chat:
  - id: prod
    source: qwen
    model: qwen-max
    api_key: ${AUTOMODEL_TEST_KEY}
    temperature: 0.2
  - id: local
    source: local
    model: /models/SmolLM2-135M-Instruct
    framework: vllm
    deploy_config: {max_model_len: 2048}
    url: http://127.0.0.1:8000/v1/
  - id: glm
    source: glm
    type: embed
    api_key: literal-glm-key
embedder:
  source: openai
  base_url: http://127.0.0.1:9/v1/
  type: embed
"""


@pytest.fixture
def cmap(tmp_path, monkeypatch):
    monkeypatch.setenv('AUTOMODEL_TEST_KEY', KEY)
    return write(tmp_path, MAP)


def test_entry_picked_by_config_id_source_or_first(cmap):
    m = AutoModel('qwen-chat', config_id='prod', config=cmap)
    assert (m.source, m.model, m.type) == ('qwen', 'qwen-max', 'llm')
    assert AutoModel('qwen-chat', config=cmap).model == 'qwen-max'           # the first
    g = AutoModel('qwen-chat', source='glm', config=cmap)                    # by source
    assert (g.source, g.model, g.type) == ('glm', 'qwen-chat', 'embed')      # model = the name
    dep = local(AutoModel('qwen-chat', config_id='local', config=cmap))
    assert (dep.model, dep.given_url, dep.engine.name) == \
        ('/models/SmolLM2-135M-Instruct', 'http://127.0.0.1:8000/v1/', 'vllm')
    assert AutoModel(config_id='glm', config=cmap).source == 'glm'           # id alone
    with pytest.raises(ConfigError, match=r"its ids are \['prod', 'local', 'glm'\]"):
        AutoModel('qwen-chat', config_id='nope', config=cmap)
    with pytest.raises(ConfigError, match="has id 'nope'"):
        AutoModel(config_id='nope', config=cmap)


def test_env_expansion_and_the_unset_variable(cmap, monkeypatch):
    with OpenAIServer(api_key=KEY) as srv:
        path = write(cmap.parent, f'c:\n  base_url: {srv.base_url}\n  api_key: ${{K}}\n', 'k.yaml')
        monkeypatch.setenv('K', KEY)
        assert AutoModel('c', config=path)('hello') == 'hello'   # the key reached the server
    monkeypatch.delenv('AUTOMODEL_TEST_KEY')
    with pytest.raises(ConfigError, match=r"'qwen-chat'\[0\] \(id 'prod'\).*AUTOMODEL_TEST_KEY"):
        AutoModel('qwen-chat', config=cmap)
    assert AutoModel('qwen-chat', config_id='glm', config=cmap).model == 'qwen-chat'


def test_keywords_override_the_entry(cmap):
    m = AutoModel('qwen-chat', config=cmap, temperature=0.9, stream=True)
    assert m._sampling == {'temperature': 0.9} and m.stream_options.enabled
    text = AutoModel.explain('qwen-chat', config=cmap, temperature=0.9)
    assert "['temperature'] given to AutoModel override the entry" in text
    assert 'temperature=0.9' in text and 'temperature=0.2' not in text
    assert AutoModel('qwen-chat', config=cmap, type='vlm').type == 'vlm'


def test_unknown_key_in_the_file(tmp_path):
    path = write(tmp_path, 'a:\n  - source: local\n  - id: x\n    source: qwen\n    colour: 1\n')
    with pytest.raises(ConfigError, match=r"'a'\[1\] \(id 'x'\).*\['colour'\].*allowed keys"):
        AutoModel('a', config_id='x', config=path)
    with pytest.raises(ConfigError, match=r"'a'\[0\].*\['temperature'\]"):
        AutoModel('a', config=write(tmp_path, 'a:\n  source: local\n  temperature: 1\n'))


def test_bad_files_name_the_file_and_the_problem(tmp_path):
    bad = write(tmp_path, 'a:\n  source: qwen\n  b: [1, 2\n', 'bad.yaml')
    with pytest.raises(ConfigError, match=r'bad\.yaml is not valid YAML at line \d+, column'):
        AutoModel('a', config=bad)
    with pytest.raises(ConfigError, match='missing.yaml'):
        AutoModel('a', config=tmp_path / 'missing.yaml')
    with pytest.raises(ConfigError, match='must be a mapping'):
        AutoModel('a', config=write(tmp_path, '- 1\n', 'list.yaml'))
    with pytest.raises(ConfigError, match='needs a config map'):
        AutoModel('a', config_id='x')


def test_the_setting_names_the_map(cmap, monkeypatch, qwen_key):
    monkeypatch.setenv('LAZYLLM_AUTO_MODEL_CONFIG_MAP_PATH', str(cmap))
    assert AutoModel('qwen-chat').model == 'qwen-max'
    assert AutoModel('qwen-chat', config=False).model == 'qwen-chat'   # no map: online by key
    monkeypatch.setenv('LAZYLLM_AUTO_MODEL_CONFIG_MAP_PATH', str(cmap.parent / 'gone.yaml'))
    with pytest.raises(ConfigError, match='gone.yaml'):
        AutoModel('qwen-chat')


# -- end to end against a real server ------------------------------------------------------------
def test_entries_answer_end_to_end(tmp_path):
    with OpenAIServer() as srv:
        path = write(tmp_path, f"""
embedder: {{source: openai, base_url: '{srv.base_url}', type: embed}}
chat: {{base_url: '{srv.base_url}', max_tokens: 5}}
engine:
  - {{source: local, url: '{srv.base_url}'}}
  - {{id: vec, source: local, url: '{srv.base_url}', type: embed}}
""")
        vec = AutoModel('embedder', config=path)('a sentence')
        assert isinstance(vec, list) and len(vec) == 8 and all(isinstance(v, float) for v in vec)
        chat = AutoModel('chat', config=path)
        assert chat('hello') == 'hello' and (chat | str.upper)('hello') == 'HELLO'
        assert asyncio.run(chat.acall('hi there')) == 'hi there' and chat.usage['requests'] == 3
        with AutoModel('engine', config=path).start() as m:
            assert m.status == 'attached' and m('hello') == 'hello'
            assert ''.join(m.stream('hello world')) == 'hello world'
        with AutoModel('engine', config_id='vec', config=path).start() as e:
            assert len(e(['a', 'b'])) == 2


# -- explain and secrets -------------------------------------------------------------------------
def test_explain_names_the_rule_and_the_target(cmap, qwen_key, tmp_path):
    text = AutoModel.explain('qwen-chat', config_id='prod', config=cmap)
    assert "entry 'qwen-chat'[0] (id 'prod')" in text and "config_id='prod'" in text
    assert "lazyllm.OnlineModule('qwen-max', source='qwen', api_key='***'" in text
    text = AutoModel.explain('qwen-chat', config_id='local', config=cmap)
    assert 'deploy_method(lazyllm.deploy.vllm' in text and 'max_model_len=2048' in text
    assert 'online supplier' in AutoModel.explain('qwen') and "'qwen-plus'" in \
        AutoModel.explain('qwen')
    assert 'existing local path' in AutoModel.explain(tmp_path)
    assert 'catalog' in AutoModel.explain('qwen2-0.5b')


def test_keys_never_show(cmap):
    for m in (AutoModel('qwen-chat', config=cmap), AutoModel('gpt-4o', source='openai',
                                                             api_key=KEY)):
        for text in (repr(m), AutoModel.explain('qwen-chat', config=cmap),
                     AutoModel.explain('gpt-4o', source='openai', api_key=KEY), str(vars(m))):
            assert KEY not in text
    glm = AutoModel.explain('qwen-chat', config_id='glm', config=cmap)
    assert 'literal-glm-key' not in glm and '***' in glm


def test_it_is_a_factory_and_imports_lazily():
    assert lazyllm.AutoModel is AutoModel and not issubclass(AutoModel, lazyllm.ModuleBase)
    assert issubclass(lazyllm.TrainableModule, AutoModel)   # what it can build
    out = subprocess.run([sys.executable, '-c', 'import sys, lazyllm; lazyllm.AutoModel; '
                          'print("httpx" in sys.modules, "lazyllm.module.online" in sys.modules)'],
                         capture_output=True, text=True, check=True).stdout
    assert out.split() == ['False', 'False']


# -- the models file: MuAI / model-compose keys in the same map --------------------------------
def test_models_file_keys_become_engine_options(tmp_path, tiny_llm_path):
    path = tmp_path / 'models.yaml'
    path.write_text(f'''
tiny:
  model: {tiny_llm_path}
  engine: transformers
  dtype: float32
  max_context_length: 64
  trust_remote_code: false
vllm-tiny:
  model: {tiny_llm_path}
  engine: vllm
  max_context_length: 128
bad:
  model: {tiny_llm_path}
  engine: transformers
  quantization: int3
''')
    m = AutoModel('tiny', config=str(path))
    dep = local(m)
    assert (dep.engine.name, dep.options) == ('transformers',
                                              {'dtype': 'float32', 'max_model_len': 64})
    assert AutoModel.explain('tiny', config=str(path)).endswith(
        '.deploy_method(lazyllm.deploy.transformers, dtype=\'float32\', max_model_len=64)')
    assert local(AutoModel('vllm-tiny', config=str(path))).options == {'max_model_len': 128}
    with pytest.raises(ConfigError, match="entry 'bad'.*quantization"):
        AutoModel('bad', config=str(path))
    with pytest.raises(ConfigError, match='disagree'):
        path.write_text(f'x:\n  model: {tiny_llm_path}\n  engine: vllm\n'
                        f'  framework: transformers\n')
        AutoModel('x', config=str(path))
