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
    opts = vllm.validate(dict(
        dtype='bfloat16', max_model_len=2048, tensor_parallel_size=1, pipeline_parallel_size=1,
        gpu_memory_utilization=0.5, kv_cache_memory_bytes=1 << 28, enforce_eager=True,
        chat_template='/t.jinja', trust_remote_code=True, seed=0, quantization='fp8',
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
                 '--chat-template /t.jinja', '--trust-remote-code', '--seed 0',
                 '--quantization fp8', '--enable-lora', '--max-lora-rank 16',
                 '--runner generate', f'--lora-modules sql=/adapters/sql law={tmp_path}'):
        assert part in line, part
    assert argv[-2:] == ['--max-num-seqs', '8']
    assert 'kv-cache-space' not in line and 'extra' not in line
    assert vllm.env(opts)['VLLM_CPU_KVCACHE_SPACE'] == '2'


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
