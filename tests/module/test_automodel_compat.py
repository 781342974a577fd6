"""Code written for LazyLLM's model API runs: one test per row of docs/lazyllm-compat.md
("Models"). Online calls go to the OpenAI-protocol test server on 127.0.0.1; hub downloads to
the hub test server (tests/servers); nothing is mocked."""
import logging

import pytest

import lazyllm
from lazyllm import AutoModel, OnlineModule
from lazyllm.errors import DownloadError, InputError, ModelNotFoundError
from lazyllm.module.online import (
    OnlineChatModule,
    OnlineEmbeddingModule,
    OnlineMultiModalModule,
)
from tests.servers.hf_hub_server import HFHubServer
from tests.servers.openai_server import OpenAIServer

KEY = 'sk-compat-test-0123456789abcdef'


pytestmark = pytest.mark.usefixtures('no_online_keys')


@pytest.fixture
def srv():
    with OpenAIServer(api_key=KEY) as s:
        yield s


@pytest.fixture
def trace_log(caplog):
    caplog.set_level(logging.INFO, logger='lazyllm')
    return caplog


def messages(caplog, level=None):
    return [r.getMessage() for r in caplog.records
            if r.name == 'lazyllm' and (level is None or r.levelno == level)]


# -- AutoModel returns the module itself -------------------------------------------------------
def test_automodel_returns_the_module_itself(minilm_path, monkeypatch):
    m = AutoModel(str(minilm_path))
    assert isinstance(m, lazyllm.TrainableModule) and type(m) is lazyllm.TrainableModule
    monkeypatch.setenv('LAZYLLM_QWEN_API_KEY', KEY)
    chat = AutoModel('qwen-plus', source='qwen')
    assert type(chat) is OnlineChatModule and not hasattr(chat, 'module')
    assert type(AutoModel('qwen', type='embed')) is OnlineEmbeddingModule
    assert type(AutoModel('qwen-audio-turbo', source='qwen', type='stt')) is OnlineMultiModalModule
    assert isinstance(chat, AutoModel) and isinstance(chat, OnlineModule)
    assert not isinstance(m, OnlineModule) and not isinstance('text', AutoModel)
    assert 'online supplier' in AutoModel.explain('qwen')


# -- base_model= -------------------------------------------------------------------------------
def test_base_model_names_the_model(tmp_path, srv):
    m = AutoModel(base_model=str(tmp_path))
    assert type(m) is lazyllm.TrainableModule and m.deployment.model == str(tmp_path)
    chat = AutoModel(base_model='echo-model', base_url=srv.base_url, api_key=KEY)
    assert chat.model == 'echo-model' and chat('hello') == 'hello'
    assert "existing local path" in AutoModel.explain(base_model=str(tmp_path))
    with pytest.raises(InputError, match=r"model='a' and base_model='b'.*pass one of them"):
        AutoModel('a', base_model='b')


# -- function= ---------------------------------------------------------------------------------
def test_function_is_the_call_type(srv):
    emb = OnlineModule(source='openai', url=srv.base_url, api_key=KEY, function='embed')
    assert type(emb) is OnlineEmbeddingModule and emb.type == 'embed'
    assert len(emb('a sentence')) == 8                      # a real embeddings request
    stt = OnlineModule(source='openai', api_key=KEY, function='stt')
    assert type(stt) is OnlineMultiModalModule
    assert AutoModel(source='qwen', api_key=KEY, function='rerank').type == 'rerank'
    with pytest.raises(InputError, match="type='llm' and function='embed'.*pass one of them"):
        OnlineModule(source='openai', api_key=KEY, type='llm', function='embed')


# -- return_trace= -----------------------------------------------------------------------------
def test_return_trace_logs_each_call(srv, trace_log):
    chat = OnlineChatModule(base_url=srv.base_url, api_key=KEY, return_trace=True, name='bot')
    assert chat('hello there') == 'hello there'
    log = messages(trace_log, logging.INFO)
    assert "trace bot <- 'hello there'" in log and "trace bot -> 'hello there'" in log
    trace_log.clear()
    OnlineChatModule(base_url=srv.base_url, api_key=KEY, name='quiet')('hi')
    assert not [m for m in messages(trace_log) if m.startswith('trace')]
    emb = OnlineModule(url=srv.base_url, api_key=KEY, type='embed', return_trace=True, name='e')
    emb('x')
    assert any(m.startswith('trace e -> [') for m in messages(trace_log))
    with pytest.raises(InputError, match='return_trace must be True or False'):
        OnlineChatModule(base_url=srv.base_url, api_key=KEY, return_trace='yes')


def test_return_trace_through_automodel_on_both_routes(srv, trace_log):
    online = AutoModel('echo-model', base_url=srv.base_url, api_key=KEY, return_trace=True,
                       name='on')
    assert online('ping') == 'ping' and "trace on -> 'ping'" in messages(trace_log)
    with AutoModel('engine', source='local', url=srv.base_url, api_key=KEY, return_trace=True,
                   name='loc').start() as local:
        assert type(local) is lazyllm.TrainableModule and local('pong') == 'pong'
    assert "trace loc -> 'pong'" in messages(trace_log)
    assert 'return_trace=True' in AutoModel.explain('engine', source='local', url=srv.base_url,
                                                    return_trace=True)
    with pytest.raises(InputError, match='return_trace must be True or False'):
        AutoModel('engine', source='local', url=srv.base_url, return_trace=1)


# -- a type not in the tables is llm, with a log line ------------------------------------------
def test_unknown_type_is_llm_with_a_warning(srv, caplog, tmp_path):
    m = OnlineModule(url=srv.base_url, api_key=KEY, type='chatbot')
    assert type(m) is OnlineChatModule and m.type == 'llm' and m('hi') == 'hi'
    assert any("type='chatbot' is no online call type: treated as llm" in t
               for t in messages(caplog, logging.WARNING))
    assert OnlineChatModule(base_url=srv.base_url, api_key=KEY, type='chatbot').type == 'llm'
    caplog.clear()
    local = AutoModel(str(tmp_path), type='chatbot')
    assert local.deployment.type is lazyllm.hub.ModelType.LLM
    assert any("type='chatbot' is no model type: treated as llm" in t
               for t in messages(caplog, logging.WARNING))
    assert AutoModel(str(tmp_path), type='embedding').deployment.type.value == 'embed'
    with pytest.raises(InputError, match="type='chatbot' is not an online call type here: use "
                                         "one of embed"):
        OnlineEmbeddingModule(base_url=srv.base_url, api_key=KEY, type='chatbot')


# -- OnlineChatModule(...).formatter(f) --------------------------------------------------------
def test_formatter_builder_on_online_modules(srv):
    chat = OnlineChatModule(base_url=srv.base_url, api_key=KEY)
    assert chat.formatter(str.upper) is chat and chat('hello') == 'HELLO'
    assert chat.formatter(None)('hello') == 'hello'
    emb = OnlineEmbeddingModule(base_url=srv.base_url, api_key=KEY).formatter(len)
    assert emb('a sentence') == 8
    with pytest.raises(InputError, match='formatter must be callable'):
        chat.formatter('json')


# -- embed_model_name= on any route ------------------------------------------------------------
def test_embed_model_name_on_every_route(srv, minilm_path, tmp_path):
    emb = OnlineModule(url=srv.base_url, api_key=KEY, embed_model_name='my-vectors')
    assert type(emb) is OnlineEmbeddingModule and emb.model == 'my-vectors'
    assert len(emb('text')) == 8
    auto = AutoModel(embed_model_name='my-vectors', base_url=srv.base_url, api_key=KEY)
    assert type(auto) is OnlineEmbeddingModule and auto.model == 'my-vectors'
    assert type(AutoModel(embed_model_name='bge-rerank', source='openai', api_key=KEY,
                          base_url=srv.base_url)) is OnlineEmbeddingModule
    by_url = AutoModel(embed_model_name='my-vectors', embed_url=srv.base_url, api_key=KEY)
    assert type(by_url) is OnlineEmbeddingModule and by_url.base_url == srv.base_url
    local = AutoModel(embed_model_name=str(minilm_path))
    assert type(local) is lazyllm.TrainableModule
    path = tmp_path / 'map.yaml'
    path.write_text(f'vectors:\n  base_url: {srv.base_url}\n  api_key: {KEY}\n')
    mapped = AutoModel(embed_model_name='vectors', config=str(path))
    assert type(mapped) is OnlineEmbeddingModule and len(mapped('x')) == 8
    with pytest.raises(InputError, match='pass one of them'):
        AutoModel('a', embed_model_name='b')


# -- TrainableModule(source=...) ---------------------------------------------------------------
def test_trainable_source_picks_the_hub_tried_first(tmp_path, monkeypatch):
    """LazyLLM's source= on TrainableModule: the hub this module's model is downloaded from
    first (the other stays the fallback); a local folder needs none."""
    monkeypatch.setenv('LAZYLLM_MODEL_PATH', str(tmp_path))
    monkeypatch.setenv('HF_ENDPOINT', 'http://127.0.0.1:9')        # unreachable: no network
    monkeypatch.setenv('MODELSCOPE_DOMAIN', '127.0.0.1:9')
    with pytest.raises(InputError, match='source must be one of huggingface, modelscope'):
        lazyllm.TrainableModule('org/model', source='local')
    for first, then in (('modelscope', 'huggingface'), ('huggingface', 'modelscope')):
        m = lazyllm.TrainableModule('someorg/nosuchmodel', source=first)
        with pytest.raises(lazyllm.errors.ModelNotFoundError) as e:
            m.deployment.target()
        text = str(e.value)
        assert text.index(f'- {first}:') < text.index(f'- {then}:')
    assert lazyllm.TrainableModule('org/model', trust_remote_code=False).deployment.source is None


def test_trainable_return_trace_logs_each_call(tiny_llm_path, caplog):
    import logging
    with pytest.raises(InputError, match='return_trace must be True or False'):
        lazyllm.TrainableModule(str(tiny_llm_path), return_trace='yes')
    m = lazyllm.TrainableModule(str(tiny_llm_path), return_trace=True, name='traced')
    with caplog.at_level(logging.INFO, logger='lazyllm'), m.start():
        m('hello', max_tokens=2, temperature=0)
    assert any('trace traced <- ' in r.getMessage() for r in caplog.records)


# -- bare hub ids ------------------------------------------------------------------------------
@pytest.fixture
def hub_env(tmp_path, monkeypatch):
    for var in ('MODELSCOPE_DOMAIN', 'MODELSCOPE_API_TOKEN', 'HF_HUB_OFFLINE',
                'TRANSFORMERS_OFFLINE', 'HF_TOKEN', 'HF_HUB_CACHE', 'LAZYLLM_MODEL_SOURCE',
                'LAZYLLM_MODEL_SOURCE_TOKEN', 'LAZYLLM_MODEL_PATH', 'LAZYLLM_CATALOG'):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv('HF_HOME', str(tmp_path / 'hf'))
    monkeypatch.setenv('MODELSCOPE_CACHE', str(tmp_path / 'ms'))
    monkeypatch.setenv('LAZYLLM_MODEL_CACHE_DIR', str(tmp_path / 'cache'))
    monkeypatch.setenv('HF_HUB_DISABLE_PROGRESS_BARS', '1')
    return tmp_path


def test_a_bare_id_downloads_from_the_hugging_face_api(hub_env, monkeypatch):
    folder = hub_env / 'weights'
    folder.mkdir()
    (folder / 'config.json').write_text('{"model_type": "bert"}')
    (folder / 'model.safetensors').write_bytes(b'\x00' * 4096)
    with HFHubServer({'tinybare': folder}) as hub:
        monkeypatch.setenv('HF_ENDPOINT', hub.url)
        monkeypatch.setenv('MODELSCOPE_ENDPOINT', hub.url)
        got = lazyllm.hub.resolve_model('tinybare')
        assert got == (hub_env / 'cache' / 'tinybare').resolve()
        assert (got / 'model.safetensors').read_bytes() == b'\x00' * 4096
        assert any('/api/models/tinybare' in r.path for r in hub.requests)
        hub.reset()
        assert lazyllm.hub.resolve_model('tinybare') == got and hub.requests == []


def test_bare_ids_are_hub_ids_not_refusals(hub_env, monkeypatch):
    monkeypatch.setenv('HF_ENDPOINT', 'http://127.0.0.1:9')       # nothing listens there
    monkeypatch.setenv('MODELSCOPE_ENDPOINT', 'http://127.0.0.1:9')
    for name in ('gpt2', 'bert-base-uncased'):
        with pytest.raises(DownloadError) as e:
            lazyllm.hub.resolve_model(name)
        text = str(e.value)
        assert 'cannot reach huggingface (http://127.0.0.1:9)' in text
        assert 'modelscope: not tried, it takes only org/name repo ids' in text
        assert 'not a hub repo id' not in text
        assert type(AutoModel(name)) is lazyllm.TrainableModule   # no key: the hub, at start
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    with pytest.raises(ModelNotFoundError, match="'gpt2' was not found in any cache, and "
                                                 'offline mode is on'):
        lazyllm.hub.resolve_model('gpt2')
    for bad in ('%zz', 'a--b', '-x', 'a/b/c', 'x' * 97):
        with pytest.raises(ModelNotFoundError, match='not a hub repo id'):
            lazyllm.hub.resolve_model(bad)


def test_the_hub_rule_for_repo_ids():
    from lazyllm.hub._resolve import hub_repo
    assert hub_repo('huggingface', 'gpt2') == 'gpt2'
    assert hub_repo('modelscope', 'gpt2') == ''
    assert hub_repo('modelscope', 'Qwen/Qwen2-1.5B-Instruct') == 'Qwen/Qwen2-1.5B-Instruct'
    assert [hub_repo('huggingface', n) for n in ('a..b', 'x.git', 'a b', '.x', '')] == [''] * 5


# -- config-map precedence ---------------------------------------------------------------------
def test_an_explicit_keyword_wins_over_the_map(tmp_path, srv):
    path = tmp_path / 'map.yaml'
    path.write_text(f'chat:\n  base_url: {srv.base_url}\n  api_key: {KEY}\n  max_tokens: 2\n'
                    f'  model: from-map\n')
    m = AutoModel('chat', config=str(path), max_tokens=7)
    assert m._sampling == {'max_tokens': 7} and m.model == 'from-map'
    assert "['max_tokens'] given to AutoModel override the entry" in \
        AutoModel.explain('chat', config=str(path), max_tokens=7)
