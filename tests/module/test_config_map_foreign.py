"""Model files of other tools given as the AutoModel config map: model-compose files are
converted (tested on model-compose's published examples in tests/data/model_compose), MuAI /
Xinference keys and a nested ``models:`` block are refused with our spelling."""
from pathlib import Path

import pytest

import lazyllm
from lazyllm import AutoModel
from lazyllm.errors import ConfigError, InputError
from lazyllm.module._config_map import load_map

DATA = Path(__file__).resolve().parents[1] / 'data' / 'model_compose'


def published(name):
    return str(DATA / name)


def test_published_text_generation_example_becomes_a_transformers_entry():
    path = published('text-generation.yml')
    assert load_map(Path(path)) == {'default': [{
        'source': 'local', 'type': 'llm', 'model': 'HuggingFaceTB/SmolLM3-3B',
        'framework': 'transformers',
        'deploy_config': {'sampling_defaults': {'max_tokens': 32768}}}]}
    m = AutoModel('default', config=path)
    assert type(m) is lazyllm.TrainableModule
    dep = m.deployment
    assert (dep.engine.name, dep.options) == ('transformers',
                                              {'sampling_defaults': {'max_tokens': 32768}})


def test_published_chat_and_embedding_examples():
    chat = AutoModel.explain('default', config=published('chat-completion.yml'))
    assert chat.endswith("lazyllm.TrainableModule('HuggingFaceTB/SmolLM3-3B', type='llm')"
                         ".deploy_method(lazyllm.deploy.transformers)")
    emb = AutoModel('default', config=published('text-embedding.yml'))
    assert emb.deployment.engine.name == 'embedding'
    assert 'sentence-transformers/all-MiniLM-L6-v2' in AutoModel.explain(
        'default', config=published('text-embedding.yml'))


def test_published_llamacpp_example_is_refused_naming_the_driver():
    with pytest.raises(ConfigError, match="component 'default' of .*chat-completion-llamacpp"
                                          ".yml: driver 'llamacpp' has no lazyllm engine"):
        AutoModel('default', config=published('chat-completion-llamacpp.yml'))


COMPOSE = '''
controller: {{type: http-server, port: 8080}}
workflows:
  - id: chat
    jobs: [{{id: j, component: tiny}}]
components:
  - id: search
    type: http-client
    endpoint: https://example.invalid/v1
  - id: tiny
    type: model
    task: chat-completion
    model: {{provider: local, path: {path}}}
    precision: float32
    device: cpu
    context_length: 64
    peft_adapters:
      - {{type: lora, name: sql, model: ./runs/sql, weight: 0.5}}
    action:
      messages: [{{role: user, content: "${{input.text}}"}}]
      streaming: false
      params: {{max_output_length: 8, do_sample: false, top_p: 0.9}}
'''


def test_components_list_converts_every_model_key(tmp_path):
    path = tmp_path / 'model-compose.yml'
    path.write_text(COMPOSE.format(path='./weights'))
    (entry,) = load_map(path)['tiny']
    assert entry == {
        'source': 'local', 'type': 'llm', 'model': str(tmp_path / 'weights'),
        'framework': 'transformers', 'dtype': 'float32', 'device': 'cpu',
        'max_context_length': 64, 'adapters': {'sql': [str(tmp_path / 'runs/sql'), 0.5]},
        'stream': False,
        'deploy_config': {'sampling_defaults': {'max_tokens': 8, 'temperature': 0.0,
                                                'top_p': 0.9}}}
    assert 'search' not in load_map(path)        # an http-client is no model


def test_converted_component_serves_for_real(tmp_path, tiny_llm_path):
    path = tmp_path / 'model-compose.yml'
    text = COMPOSE.format(path=tiny_llm_path).replace(
        '    peft_adapters:\n      - {type: lora, name: sql, model: ./runs/sql, weight: 0.5}\n',
        '')
    path.write_text(text)
    with AutoModel('tiny', config=str(path)) as m:
        m.start()
        assert m.deployment.options == {
            'dtype': 'float32', 'device': 'cpu', 'max_model_len': 64,
            'sampling_defaults': {'max_tokens': 8, 'temperature': 0.0, 'top_p': 0.9}}
        assert isinstance(m('hello'), str)


@pytest.mark.parametrize('component, message', [
    ('task: image-upscale', "task 'image-upscale' has no lazyllm model type"),
    ('task: text-generaton', "did you mean 'text-generation'"),
    ('task: chat-completion\n  driver: unsloth', "driver 'unsloth' has no lazyllm engine"),
    ('task: chat-completion\n  precison: float16', "key 'precison'.*did you mean 'precision'"),
    ('task: chat-completion\n  quantization: fp4', "quantization 'fp4' has no lazyllm"),
    ('task: chat-completion\n  precision: int8', 'go under quantization'),
    ('task: text-embedding\n  params: {temperature: 0.1}', 'sampling params are read for'),
    ('task: chat-completion\n  params: {temprature: 0.1}', "did you mean 'temperature'"),
    ('task: chat-completion\n  model: {provider: modelscope, repository: a/b}',
     "provider 'modelscope' needs"),
])
def test_what_has_no_equivalent_is_a_config_error(tmp_path, component, message):
    path = tmp_path / 'mc.yml'
    body = f'workflow: {{title: t}}\ncomponent:\n  type: model\n  model: org/m\n  {component}\n'
    path.write_text(body.replace('  model: org/m\n  task: chat-completion\n  model: {',
                                 '  task: chat-completion\n  model: {'))
    with pytest.raises(ConfigError, match=message):
        load_map(path)


def test_a_model_compose_file_without_a_model_is_refused(tmp_path):
    path = tmp_path / 'mc.yml'
    path.write_text('workflow: {title: t}\ncomponent: {type: shell, command: [echo]}\n')
    with pytest.raises(ConfigError, match='without a model component'):
        load_map(path)


@pytest.mark.parametrize('key, spelling', [
    ('model_name: Qwen2-1.5B', 'write model: <hub id or path>'),
    ('model_type: llm', 'write type: llm'),
    ('flash_attention: true', 'attention: flash_attention_2'),
    ('fp32: true', 'dtype: float32'), ('bf16: true', 'dtype: bfloat16'),
    ('model_engine: vllm', 'framework:'),
    ('model_size_in_billions: 7', 'size included'),
])
def test_muai_and_xinference_keys_are_refused_with_our_spelling(tmp_path, key, spelling):
    path = tmp_path / 'models.yaml'
    path.write_text(f'qwen:\n  model: /m\n  {key}\n')
    with pytest.raises(ConfigError) as e:
        AutoModel('qwen', config=str(path))
    msg = str(e.value)
    assert repr(key.split(':')[0]) in msg and f"entry 'qwen'[0] of {path}" in msg
    assert 'MuAI' in msg and spelling in msg


def test_a_nested_models_block_is_never_ignored(tmp_path):
    path = tmp_path / 'models.yaml'
    path.write_text('models:\n  smol:\n    model: /m\n  qwen:\n    source: qwen\n')
    with pytest.raises(ConfigError, match='nested "models:" block \\(qwen, smol\\).*unindent'):
        AutoModel('smol', config=str(path))
    path.write_text('models:\n  - name: a\n    model: /a\n  - name: b\n    model: /b\n')
    with pytest.raises(ConfigError, match='nested "models:" block'):
        load_map(path)
    # a model that is called "models" is an entry, not a block
    path.write_text('models:\n  source: qwen\n  model: qwen-plus\n')
    assert load_map(path) == {'models': [{'source': 'qwen', 'model': 'qwen-plus'}]}


def test_unknown_entry_keys_name_the_nearest_valid_one(tmp_path):
    path = tmp_path / 'map.yaml'
    path.write_text('chat:\n  source: qwen\n  api_key: k\n  temprature: 0.2\n')
    with pytest.raises(ConfigError, match="entry 'chat'\\[0\\] of .*map.yaml has unknown "
                                          "key\\(s\\) \\['temprature'\\].*for 'temprature': "
                                          "did you mean 'temperature'\\?"):
        AutoModel('chat', config=str(path))
    with pytest.raises(InputError, match="for 'temprature': did you mean 'temperature'"):
        AutoModel('qwen-plus', source='qwen', api_key='k', temprature=0.2, config=False)
