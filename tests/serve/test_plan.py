"""The memory planner (serve/_plan.py) end to end, on real parts.

- A model too big for this machine is refused before anything heavy: a local hub
  (tests/servers/hf_hub_server.py) serves Qwen2.5-72B-Instruct's published config.json
  (tests/data/configs/Qwen2.5-72B-Instruct) and *lists* its 37 weight shards without holding
  them (a transfer of one answers 500). ``start()`` and ``lazyllm deploy`` must refuse it
  with ``WontFitError`` and its table, having fetched config.json only, registered nothing
  and started no process.
- ``lazyllm.plan`` on SmolLM2-135M (float32, a real folder): the parts and their sums, the
  KV cache by hand, vLLM's memory sized to the machine, and a fix that really fits.
- Bad input, the ``lazyllm plan`` command, the node-side check (launch/_node.py run by path
  as the cluster launchers run it, and its refusal quoted first by ``failure_text``), and
  the ``preflight`` switch.

Timings are printed, never asserted.
"""
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

import lazyllm
from lazyllm import config
from lazyllm.errors import DeployError, DownloadError, InputError, ModelNotFoundError, WontFitError
from lazyllm.launch import NEED_ENV, REFUSED_TAG, _node, get_launcher, gib, machine_memory
from lazyllm.serve._readiness import failure_text
from tests.servers.hf_hub_server import HFHubServer

ROOT = Path(__file__).resolve().parents[2]
REPO = 'org/Qwen2.5-72B-Instruct'
CONFIG = ROOT / 'tests' / 'data' / 'configs' / 'Qwen2.5-72B-Instruct'
PARAMS = 72_706_203_648                  # the published model's parameters (bfloat16)
TENSOR_BYTES = 2 * PARAMS                # 145.4 GB in 37 shards
_SHARD = 3_968_000_000
SHARDS = {f'model-{i:05d}-of-00037.safetensors': _SHARD for i in range(1, 37)}
SHARDS['model-00037-of-00037.safetensors'] = TENSOR_BYTES - 36 * _SHARD

SMOLLM_FLOAT32 = 538_060_032             # SmolLM2-135M's safetensors tensors, float32
NODE = _node.__file__                    # launch/_node.py, run by path like Slurm and Ray do


# -- fixtures and helpers ---------------------------------------------------------------------
@pytest.fixture(scope='module')
def big_hub_server():
    with HFHubServer({REPO: CONFIG}, listed={REPO: SHARDS}) as srv:
        yield srv


@pytest.fixture
def big_hub(big_hub_server, tmp_path, monkeypatch):
    """The hub serving the 72B repo; both hubs' clients, the caches and a fresh lazyllm home
    (so an empty registry) pointed at it and at ``tmp_path``."""
    big_hub_server.reset()
    for var in ('MODELSCOPE_DOMAIN', 'MODELSCOPE_API_TOKEN', 'HF_HUB_OFFLINE',
                'TRANSFORMERS_OFFLINE', 'HF_TOKEN', 'HF_HUB_CACHE', 'LAZYLLM_MODEL_SOURCE',
                'LAZYLLM_MODEL_SOURCE_TOKEN', 'LAZYLLM_MODEL_PATH', 'LAZYLLM_CATALOG',
                'LAZYLLM_PREFLIGHT'):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv('HF_ENDPOINT', big_hub_server.url)
    monkeypatch.setenv('MODELSCOPE_ENDPOINT', big_hub_server.url)   # it serves both APIs
    monkeypatch.setenv('HF_HOME', str(tmp_path / 'hf'))
    monkeypatch.setenv('MODELSCOPE_CACHE', str(tmp_path / 'ms'))
    monkeypatch.setenv('LAZYLLM_MODEL_CACHE_DIR', str(tmp_path / 'cache'))
    monkeypatch.setenv('LAZYLLM_HOME', str(tmp_path / 'home'))
    monkeypatch.setenv('HF_HUB_DISABLE_PROGRESS_BARS', '1')
    free = machine_memory().free
    if free > 500 << 30:
        pytest.skip(f'this machine has {gib(free)} free: the 72B model would fit here')
    return big_hub_server


def _children() -> set:
    """The pids of every live descendant of this process."""
    try:
        import psutil
    except ImportError:
        return _proc_children(os.getpid())
    return {p.pid for p in psutil.Process().children(recursive=True)}


def _proc_children(root: int) -> set:
    parents = {}
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                with open(f'/proc/{entry}/stat', encoding='ascii', errors='replace') as f:
                    # the parent pid follows the command name, which may hold spaces
                    parents[int(entry)] = int(f.read().rsplit(')', 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        kids = {p for p, parent in parents.items() if parent == pid} - found
        found |= kids
        todo.extend(kids)
    return found


def _weights_asked(srv: HFHubServer) -> list:
    """Requests for a weight file: Hugging Face's ``/resolve/…/x.safetensors``."""
    return [r for r in srv.requests if r.path.endswith('.safetensors')]


def _resolved(srv: HFHubServer) -> set:
    """The names of the files fetched through Hugging Face's ``/resolve/``."""
    return {r.path.rsplit('/', 1)[-1] for r in srv.requests if '/resolve/' in r.path}


def _check_refusal(e: WontFitError) -> None:
    plan = e.plan
    assert plan.fits is False and plan.need > plan.free, plan.as_dict()
    # sized from the hub's file list and config.json: the shards' bytes, stored bfloat16
    assert (plan.size.weight_bytes, plan.size.params, plan.size.dtype) == \
        (TENSOR_BYTES, PARAMS, 'bfloat16')
    text = str(e)
    assert gib(plan.need) in text and gib(plan.free) in text, text     # the need, the free
    assert 'does not fit' in text and 'fixes' in text, text
    fixes = [ln for ln in text.splitlines() if re.match(r'(fixes)?\s+\d+\. ', ln)]
    assert fixes and len(fixes) == len(plan.fixes), text
    assert any('launch it where' in f and 'launcher=' in f for f in plan.fixes), plan.fixes


# -- 1. refused before anything heavy ----------------------------------------------------------
def test_start_refuses_a_model_too_big_before_any_download_or_process(big_hub):
    before = _children()
    module = lazyllm.TrainableModule(REPO)
    started = time.monotonic()
    with pytest.raises(WontFitError) as info:
        module.start()
    print(f'\nrefused in {time.monotonic() - started:.2f}s:\n{info.value}')
    _check_refusal(info.value)
    assert _weights_asked(big_hub) == []
    assert _resolved(big_hub) <= {'config.json'}, _resolved(big_hub)
    assert big_hub.count(None, '/repo') == 0       # nor any ModelScope file transfer
    assert lazyllm.deployments() == []
    assert module.deployment.job is None
    assert _children() - before == set()


def test_deploy_command_refuses_it_with_the_table(big_hub):
    started = time.monotonic()
    out = subprocess.run([sys.executable, '-m', 'lazyllm', 'deploy', REPO], cwd=ROOT,
                         env=dict(os.environ), capture_output=True, text=True, timeout=300)
    print(f'\n`lazyllm deploy` ended in {time.monotonic() - started:.2f}s, exit code '
          f'{out.returncode}\nstderr:\n{out.stderr}')
    assert out.returncode != 0
    assert 'does not fit' in out.stderr and 'fixes' in out.stderr, out.stderr
    assert 'launch it where' in out.stderr, out.stderr
    assert _weights_asked(big_hub) == []
    assert lazyllm.deployments() == []


def test_named_start_refuses_it_before_any_download(big_hub):
    """``start(name=…)`` (the path `lazyllm deploy` takes) makes the same check first."""
    before = _children()
    started = time.monotonic()
    with pytest.raises(Exception) as info:
        lazyllm.TrainableModule(REPO).start(name='big')
    print(f'\nended in {time.monotonic() - started:.2f}s: {type(info.value).__name__}: '
          f'{str(info.value)[:400]}')
    assert isinstance(info.value, WontFitError), f'{type(info.value).__name__}: {info.value}'
    _check_refusal(info.value)
    assert _weights_asked(big_hub) == []
    assert _children() - before == set()


# -- 2. the plan of a real local model -------------------------------------------------------
def test_plan_of_smollm_fits_and_its_parts_add_up(smollm_path):
    plan = lazyllm.plan(smollm_path)
    print(f'\n{plan}')
    assert plan.fits is True and plan.fixes == ()
    d = plan.as_dict()
    assert d['weights'] + d['kv_cache'] + d['loading'] + d['engine_memory'] == d['total']
    assert d['total'] == plan.need and d['fits'] is True
    assert (d['engine'], d['dtype'], d['weights']) == ('transformers', 'float32', SMOLLM_FLOAT32)
    assert (d['stored_bytes'], d['stored_dtype']) == (SMOLLM_FLOAT32, 'float32')
    assert json.loads(json.dumps(d)) == d


def test_plan_weights_follow_the_dtype(smollm_path):
    half = lazyllm.plan(smollm_path, dtype='bfloat16')
    assert half.footprint.weights == SMOLLM_FLOAT32 // 2
    assert half.footprint.dtype == 'bfloat16'


def test_plan_kv_cache_is_layers_heads_dims_tokens_sequences(smollm_path):
    plan = lazyllm.plan(smollm_path, max_model_len=1024, concurrency=4)
    # 30 layers x (keys, values) x 3 KV heads x head dim 64 x 4 bytes (float32) x 1024 x 4
    assert plan.footprint.kv_cache == 30 * 2 * 3 * 64 * 4 * 1024 * 4
    assert (plan.footprint.kv_tokens, plan.footprint.kv_sequences) == (1024, 4)
    assert plan.as_dict()['kv_cache'] == plan.footprint.kv_cache


def test_plan_sizes_vllm_memory_to_the_machine(smollm_path):
    plan = lazyllm.plan(smollm_path, engine='vllm')
    total = machine_memory().total
    print(f'\n{plan}\noptions: {plan.options}, free {gib(plan.free)} of {gib(total)}')
    assert plan.engine == 'vllm'
    assert plan.options['kv_cache_memory_bytes'] > 0
    assert plan.footprint.kv_cache == plan.options['kv_cache_memory_bytes']
    assert 0 < plan.options['gpu_memory_utilization'] <= plan.free / total
    given = lazyllm.plan(smollm_path, engine='vllm', options={'kv_cache_memory_bytes': 256 << 20})
    assert given.options.get('kv_cache_memory_bytes') == 256 << 20     # the user's size kept
    assert 'gpu_memory_utilization' not in given.options


def test_a_plan_that_cannot_fit_proposes_a_context_that_does(smollm_path):
    plan = lazyllm.plan(smollm_path, max_model_len=1_000_000, concurrency=64)
    print(f'\n{plan}')
    assert plan.fits is False and plan.need > plan.free
    assert plan.fixes[0].startswith('max_model_len='), plan.fixes
    tokens = int(re.match(r'max_model_len=(\d+)', plan.fixes[0]).group(1))
    assert 256 <= tokens < 1_000_000
    again = lazyllm.plan(smollm_path, max_model_len=tokens, concurrency=64)
    print(f'with max_model_len={tokens}: {again.verdict()}')
    assert again.fits is True


# -- 3. bad input ---------------------------------------------------------------------------
@pytest.mark.parametrize('kwargs, error, words', [
    ({'concurrency': 0}, InputError, ('concurrency', '>= 1', '0')),
    ({'max_model_len': 'x'}, InputError, ('max_model_len', '>= 1', "'x'")),
    ({'engine': 'nope'}, InputError, ("'nope'", 'use one of', 'transformers', 'vllm')),
    ({'engine': 'llamacpp'}, DeployError, ('serves GGUF files', 'is not one')),
    ({'gpus': 2}, InputError, ('gpus=2', 'transformers engine', 'engine="vllm"')),
])
def test_plan_refuses_bad_input_naming_the_fix(smollm_path, kwargs, error, words):
    with pytest.raises(error) as info:
        lazyllm.plan(smollm_path, **kwargs)
    text = str(info.value)
    assert all(w in text for w in words), text


def test_plan_of_a_missing_path():
    with pytest.raises(ModelNotFoundError) as info:
        lazyllm.plan('/no/such/path')
    assert '/no/such/path' in str(info.value) and 'does not exist' in str(info.value)
    assert 'lazyllm models' in str(info.value)        # ...and what to pass instead


# -- 4. the command ---------------------------------------------------------------------------
def _lazyllm(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', 'lazyllm', *args], cwd=ROOT, text=True,
                          capture_output=True, timeout=300)


def test_plan_command_json(smollm_path):
    out = _lazyllm('plan', str(smollm_path), '--json')
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    assert d['fits'] is True and d['weights'] == SMOLLM_FLOAT32 and d['fixes'] == []


def test_plan_command_exits_1_when_it_does_not_fit(smollm_path):
    out = _lazyllm('plan', str(smollm_path), '--max-model-len', '1000000', '--concurrency', '64')
    print(f'\n{out.stdout}')
    assert out.returncode == 1, out.stderr
    assert 'does not fit' in out.stdout and 'fixes' in out.stdout
    assert '1. max_model_len=' in out.stdout


@pytest.mark.parametrize('flag', ['--concurrency', '--max-model-len', '--gpus'])
def test_plan_command_bad_number_is_usage(flag):
    out = _lazyllm('plan', 'm', flag, '0')
    assert out.returncode == 2 and 'expected a whole number >= 1' in out.stderr, out.stderr


def test_plan_command_help_shows_the_examples():
    out = _lazyllm('plan', '--help')
    assert out.returncode == 0, out.stderr
    assert 'examples:' in out.stdout
    assert 'lazyllm plan Qwen/Qwen2.5-7B-Instruct --max-model-len 8192' in out.stdout
    assert '--json' in out.stdout and '--concurrency' in out.stdout


# -- 5. the check on the node ------------------------------------------------------------------
def _node_argv() -> list:
    return [sys.executable, '-I', '-S', NODE, '--', sys.executable, '-c', 'print(1)']


def test_node_refuses_a_need_larger_than_its_free_ram():
    out = subprocess.run(_node_argv(), env={**os.environ, NEED_ENV: str(10**15)},
                         capture_output=True, text=True, timeout=60)
    print(f'\n{out.stderr}')
    assert out.returncode != 0
    assert REFUSED_TAG in out.stderr and 'GiB' in out.stderr
    assert '1' not in out.stdout.splitlines()       # the program never ran


def test_node_runs_the_program_when_the_need_is_free():
    out = subprocess.run(_node_argv(), env={**os.environ, NEED_ENV: '1000'},
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1] == '1'
    assert REFUSED_TAG not in out.stderr


def test_failure_text_quotes_the_node_refusal_first():
    job = get_launcher('local').launch(_node_argv(), env={NEED_ENV: str(10**15)},
                                       name='plan-refused')
    try:
        job.wait(timeout=60)
        assert job.ended and job.returncode != 0
        log = job.logs(2000)
        refused = next(ln for ln in log.splitlines() if REFUSED_TAG in ln)
        refusal = refused.split(REFUSED_TAG, 1)[1].strip()
        text = failure_text(job, lazyllm.deploy.transformers, 'm', 'exited')
        print(f'\n{text}')
        lines = text.splitlines()
        assert lines[0].startswith('the transformers engine for m exited')
        assert lines[1] == refusal and 'GiB' in refusal
    finally:
        job.stop()


# -- 6. the switch ----------------------------------------------------------------------------
def test_preflight_off_lets_start_go_on_to_the_download(big_hub):
    started = time.monotonic()
    with config.override(preflight=False):
        with pytest.raises(Exception) as info:
            lazyllm.TrainableModule(REPO).start()
    print(f'\nended in {time.monotonic() - started:.2f}s: {type(info.value).__name__}: '
          f'{str(info.value)[:400]}')
    assert not isinstance(info.value, WontFitError)
    # the download it went on to fails: the disk is too small, or the hub holds no shard
    assert isinstance(info.value, DownloadError), repr(info.value)
    assert lazyllm.deployments() == []
    assert config['preflight'] is True           # the override ended with the block
