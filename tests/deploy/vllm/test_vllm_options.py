"""The vllm engine without vLLM: options, argv, environment, interpreter checks, and reading
vLLM's reason from its log. None of these launch anything."""
import sys

import pytest

import lazyllm
from lazyllm.deploy import vllm
from lazyllm.errors import DeployError, InputError


def test_registered_and_exported():
    assert lazyllm.deploy.vllm is vllm is lazyllm.deploy.get_engine('vllm')
    assert vllm.serves(lazyllm.hub.ModelType.LLM) and vllm.serves(lazyllm.hub.ModelType.EMBED)
    assert not vllm.serves(lazyllm.hub.ModelType.RERANK)
    assert vllm.health_path == '/health'


def test_argv_maps_options_to_vllm_flags(tmp_path):
    template = tmp_path / 't.jinja'
    template.write_text('{{ messages }}')
    opts = vllm.validate(dict(
        dtype='bfloat16', max_model_len=2048, tensor_parallel_size=1, pipeline_parallel_size=1,
        gpu_memory_utilization=0.5, kv_cache_memory_bytes=1 << 28, enforce_eager=True,
        chat_template=str(template), trust_remote_code=True, seed=0, quantization='fp8',
        lora={'sql': '/adapters/sql', 'law': tmp_path}, max_lora_rank=16, runner='generate',
        served_model_name='alias', kv_cache_space=2, extra_args=['--max-num-seqs', '8']))
    argv = vllm.argv(str(tmp_path), host='127.0.0.1', port=8000, served_name='m',
                     options=opts, python='/venv/bin/python')
    assert argv[:12] == ['/venv/bin/python', '-m', 'vllm.entrypoints.openai.api_server',
                         '--model', str(tmp_path), '--host', '127.0.0.1', '--port', '8000',
                         '--served-model-name', 'm', 'alias']
    line = ' '.join(argv)
    for part in ('--dtype bfloat16', '--max-model-len 2048', '--tensor-parallel-size 1',
                 '--pipeline-parallel-size 1', '--gpu-memory-utilization 0.5',
                 f'--kv-cache-memory-bytes {1 << 28}', '--enforce-eager',
                 f'--chat-template {template}', '--trust-remote-code', '--seed 0',
                 '--quantization fp8', '--enable-lora', '--max-lora-rank 16',
                 '--runner generate', f'--lora-modules sql=/adapters/sql law={tmp_path}'):
        assert part in line, part
    assert argv[-2:] == ['--max-num-seqs', '8']
    assert 'kv-cache-space' not in line and 'extra' not in line
    assert vllm.env(opts)['VLLM_CPU_KVCACHE_SPACE'] == '2'


def test_tool_calling_and_structured_output_flags(tmp_path):
    opts = vllm.validate(dict(enable_auto_tool_choice=True, tool_call_parser='hermes',
                              structured_outputs_backend='xgrammar',
                              tool_strict_level='parameter'))
    argv = vllm.argv(str(tmp_path), host='127.0.0.1', port=8000, served_name='m', options=opts)
    line = ' '.join(argv)
    for part in ('--enable-auto-tool-choice', '--tool-call-parser hermes',
                 '--structured-outputs-config.backend xgrammar',
                 '--tool-strict-level parameter'):
        assert part in line, part
    # every parser of the table and every backend is accepted; the parser alone is valid
    # (tool_choice "required" and a named function need only the parser)
    for parser in ('hermes', 'llama3_json', 'mistral', 'pythonic', 'granite-20b-fc'):
        assert vllm.validate({'tool_call_parser': parser}) == {'tool_call_parser': parser}
    for backend in ('auto', 'xgrammar', 'guidance', 'outlines', 'lm-format-enforcer'):
        assert vllm.flags(vllm.validate({'structured_outputs_backend': backend})) == [
            '--structured-outputs-config.backend', backend]
    assert vllm.flags(vllm.validate({'enable_auto_tool_choice': False})) == []


def test_tool_parser_of_a_plugin_or_a_newer_vllm(tmp_path):
    plugin = tmp_path / 'my_parser.py'
    plugin.write_text('# registers "mine"\n')
    opts = vllm.validate(dict(tool_call_parser='mine', tool_parser_plugin=str(plugin),
                              enable_auto_tool_choice=True))
    line = ' '.join(vllm.flags(opts))
    assert f'--tool-parser-plugin {plugin}' in line and '--tool-call-parser mine' in line
    opts = vllm.validate(dict(enable_auto_tool_choice=True,
                              extra_args=['--tool-call-parser', 'future_parser']))
    assert vllm.flags(opts) == ['--enable-auto-tool-choice']


def test_installed_vllm_without_the_parser_is_refused_before_launch(tmp_path):
    site = tmp_path / 'venv' / 'lib' / 'python3.11' / 'site-packages' / 'vllm' / 'tool_parsers'
    site.mkdir(parents=True)
    (site / '__init__.py').write_text('_TOOL_PARSERS_TO_REGISTER = {\n    "hermes": (\n'
                                      '        "hermes_tool_parser",\n        "H",\n    ),\n}\n')
    python = str(tmp_path / 'venv' / 'bin' / 'python')
    opts = vllm.validate({'tool_call_parser': 'pythonic'})
    with pytest.raises(DeployError, match=r"no tool call parser 'pythonic'; its parsers: hermes"):
        vllm.argv(str(tmp_path), host='h', port=1, served_name='m', options=opts, python=python)
    ok = vllm.validate({'tool_call_parser': 'hermes'})
    assert '--tool-call-parser' in vllm.argv(str(tmp_path), host='h', port=1, served_name='m',
                                             options=ok, python=python)


def test_chat_template_forms(tmp_path, monkeypatch):
    template = tmp_path / 'tools.jinja'
    template.write_text('{{ messages }}')
    monkeypatch.chdir(tmp_path)
    # a file, relative or not, becomes absolute: the engine's working folder may differ
    assert vllm.validate({'chat_template': 'tools.jinja'})['chat_template'] == str(template)
    inline = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    assert vllm.validate({'chat_template': inline})['chat_template'] == inline
    # a bare name that is no file here: one of vLLM's own templates
    assert vllm.validate({'chat_template': 'template_chatml.jinja'})['chat_template'] == \
        'template_chatml.jinja'


def test_env_binds_the_cpus_this_process_may_use(monkeypatch):
    import os
    assert 'VLLM_CPU_KVCACHE_SPACE' not in vllm.env({})
    monkeypatch.setattr(os, 'sched_getaffinity', lambda pid: set(range(os.cpu_count())))
    assert 'VLLM_CPU_OMP_THREADS_BIND' not in vllm.env({})     # all CPUs: vLLM's auto
    monkeypatch.setattr(os, 'cpu_count', lambda: 16)
    monkeypatch.setattr(os, 'sched_getaffinity', lambda pid: {0, 1, 2, 3, 8})
    assert vllm.env({})['VLLM_CPU_OMP_THREADS_BIND'] == '0-3,8'     # taskset / cpuset
    assert vllm.env({'cpu_threads_bind': 'nobind'})['VLLM_CPU_OMP_THREADS_BIND'] == 'nobind'


@pytest.mark.parametrize('options, message', [
    ({'max_model_len': 0}, 'max_model_len must be >= 1'),
    ({'max_model_len': '2k'}, 'max_model_len must be an int'),
    ({'gpu_memory_utilization': 1.5}, 'gpu_memory_utilization must be in'),
    ({'dtype': 'int3'}, 'dtype'),
    ({'enforce_eager': 'yes'}, 'enforce_eager must be True or False'),
    ({'lora': {'a=b': '/x'}}, 'adapter names'),
    ({'lora': {'sql': 3}}, 'path of adapter'),
    ({'lora': ['/x']}, 'lora must be a dict'),
    ({'extra_args': ['--x', 1]}, 'extra_args must be a list of str'),
    ({'extra_args': '--x'}, 'extra_args must be a list'),
    ({'runner': 'generate', 'convert': 'embed'}, 'convert needs'),
    ({'cpu_threads_bind': 'all'}, 'cpu_threads_bind'),
    ({'task': 'embed'}, 'no option'),
    ({'enable_auto_tool_choice': True}, r'needs tool_call_parser= as well .*hermes'),
    ({'enable_auto_tool_choice': 'yes', 'tool_call_parser': 'hermes'},
     'enable_auto_tool_choice must be True or False'),
    ({'tool_call_parser': 'hermez'}, r"'hermez' is not a parser vLLM has.*hermes, hf,"),
    ({'tool_call_parser': 3}, 'tool_call_parser must be a str'),
    ({'structured_outputs_backend': 'regex'}, r"is not one of 'auto', 'xgrammar'"),
    ({'tool_strict_level': 'strict'}, r"is not one of 'auto', 'function', 'parameter'"),
    ({'chat_template': '/no/such/tool.jinja'}, 'no such file'),
    ({'tool_parser_plugin': '/no/such/parser.py', 'tool_call_parser': 'mine'}, 'no such file'),
])
def test_bad_options_fail_before_launch(options, message):
    with pytest.raises(InputError, match=message):
        vllm.validate(options)
    with pytest.raises(InputError, match=message):
        lazyllm.TrainableModule('/nowhere').deploy_method(lazyllm.deploy.vllm, **options)


def test_missing_interpreter_says_how_to_install(tmp_path, monkeypatch):
    missing = str(tmp_path / 'no-venv' / 'bin' / 'python')
    with pytest.raises(DeployError) as info:
        vllm.check_installed(missing)
    text = str(info.value)
    assert missing in text and 'install-vllm.sh' in text and 'LAZYLLM_VLLM_PYTHON' in text
    venv = tmp_path / 'empty-venv'
    (venv / 'bin').mkdir(parents=True)
    (venv / 'pyvenv.cfg').write_text('home = /usr/bin\n')
    (venv / 'bin' / 'python').symlink_to(sys.executable)
    with pytest.raises(DeployError, match='vllm is not installed in'):
        vllm.check_installed(str(venv / 'bin' / 'python'))


def test_vllm_python_setting_is_the_default_interpreter(tmp_path, monkeypatch, tiny_llm_path):
    missing = str(tmp_path / 'nope' / 'bin' / 'python')
    monkeypatch.setenv('LAZYLLM_VLLM_PYTHON', missing)
    assert vllm.default_python() == missing
    m = lazyllm.TrainableModule(tiny_llm_path).deploy_method(lazyllm.deploy.vllm)
    with pytest.raises(DeployError, match='install-vllm.sh') as info:
        m.start()
    assert missing in str(info.value) and m.status != 'running'


LOG = """\
(APIServer pid=1) INFO 11-23 21:04:39 [api_utils.py:286] non-default args: {'model': 'x'}
(VllmWorker-0 pid=2) ERROR 11-23 21:05:06 [multiproc_executor.py:953]     raise ValueError(
(VllmWorker-0 pid=2) ERROR 11-23 21:05:06 [multiproc_executor.py:953] ValueError: Available \
memory on node 0 (9.36/10.71 GiB) on startup is less than desired CPU memory utilization \
(0.92, 9.86 GiB).
Traceback (most recent call last):
RuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): {}
"""


def test_failure_reason_is_vllms_own_line_with_the_option_to_change():
    why = vllm.failure_reason(LOG)
    assert why.startswith('vLLM says: ValueError: Available memory on node 0')
    assert 'gpu_memory_utilization=' in why
    assert vllm.failure_reason('INFO all good\n') == ''
