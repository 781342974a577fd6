"""An engine that dies while starting: the DeployError quotes the root cause of its death (the
first specific exception of the failing process), not the re-raises of the processes or
frames above it (deploy/_failure.py)."""
from __future__ import annotations

import shutil
import sys
import textwrap
from dataclasses import dataclass

import pytest

import lazyllm
from lazyllm.deploy import Engine
from lazyllm.deploy._failure import root_cause
from lazyllm.deploy.servers.__main__ import cause
from lazyllm.errors import DeployError
from lazyllm.hub import ModelType
from lazyllm.serve import Deployment
from tests.support.procs import SEGFAULT

ROOT = ('ValueError: Available memory on node 0 (14.63/19.21 GiB) on startup is less than '
        'desired CPU memory utilization (0.92, 17.68 GiB). Decrease GPU memory utilization or '
        'reduce GPU memory used by other processes.')
V = '/venv/lib/python3.11/site-packages/vllm'
CORE = '(EngineCore_DP0 pid=4120) ERROR 12-02 10:00:12 [core.py:946] '
# vLLM 0.32 on a CPU with too little free memory: the engine core's ValueError, then the
# tracebacks of the worker's and the API server's re-raises (a real log had this shape; the
# old reader quoted its last line)
VLLM_LOG = f"""\
(APIServer pid=4101) INFO 12-02 10:00:01 [api_server.py:1896] vLLM API server version 0.32.0
(APIServer pid=4101) WARNING 12-02 10:00:01 [system_utils.py:255] Found ulimit of 20000 and \
failed to automatically increase with error current limit exceeds maximum limit. This can \
cause fd limit errors like `OSError: [Errno 24] Too many open files`.
(APIServer pid=4101) INFO 12-02 10:00:05 [model.py:733] Resolved architecture: Qwen2ForCausalLM
(EngineCore_DP0 pid=4120) INFO 12-02 10:00:09 [core.py:93] Initializing a V1 LLM engine \
(v0.32.0) with config: model='/models/tiny-qwen2'
{CORE}EngineCore failed to start.
{CORE}Traceback (most recent call last):
{CORE}  File "{V}/v1/engine/core.py", line 937, in run_engine_core
{CORE}    engine_core = EngineCoreProc(*args, **kwargs)
{CORE}                  ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
{CORE}  File "{V}/v1/engine/core.py", line 105, in __init__
{CORE}    self.model_executor = executor_class(vllm_config)
{CORE}  File "{V}/v1/worker/cpu_worker.py", line 95, in init_device
{CORE}    self.requested_memory = request_memory(init_snapshot, self.cache_config)
{CORE}  File "{V}/v1/worker/utils.py", line 262, in request_memory
{CORE}    raise ValueError(
{CORE}{ROOT}
(Worker pid=4133) INFO 12-02 10:00:12 [multiproc_executor.py:843] Parent process exited
(EngineCore_DP0 pid=4120) ERROR 12-02 10:00:13 [multiproc_executor.py:750] Traceback (most \
recent call last):
(EngineCore_DP0 pid=4120) ERROR 12-02 10:00:13 [multiproc_executor.py:750]   File \
"{V}/v1/executor/multiproc_executor.py", line 660, in wait_for_ready
(EngineCore_DP0 pid=4120) ERROR 12-02 10:00:13 [multiproc_executor.py:750]     raise e from None
(APIServer pid=4101) INFO 12-02 10:00:13 [core_client.py:774] [shutdown] MPClient: stopped
Traceback (most recent call last):
  File "<frozen runpy>", line 198, in _run_module_as_main
  File "{V}/entrypoints/openai/api_server.py", line 59, in <module>
    main()
  File "{V}/v1/engine/utils.py", line 1093, in wait_for_engine_startup
    raise RuntimeError(
RuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): {{}}
(EngineCore_DP0 pid=4120) ERROR 12-02 10:00:13 [multiproc_executor.py:750] Exception: \
WorkerProc initialization failed due to an exception in a background process. See stack \
trace for root cause.
"""


def test_vllm_quotes_the_engine_cores_error_not_the_wrappers():
    why = lazyllm.deploy.vllm.failure_reason(VLLM_LOG)
    assert why.splitlines()[0] == 'vLLM says: ' + ROOT
    assert 'gpu_memory_utilization=' in why.splitlines()[1]
    for wrapper in ('WorkerProc', 'Engine core initialization', 'OSError', 'raise'):
        assert wrapper not in why, wrapper


def test_root_cause_skips_wrappers_and_keeps_a_prefixed_continuation():
    """A wrapper logged before the root (processes interleave) is skipped; pydantic's
    message continues on indented lines, under vLLM's prefix too."""
    log = textwrap.dedent(f"""\
        Traceback (most recent call last):
        Exception: WorkerProc initialization failed. See stack trace for root cause.
        Traceback (most recent call last):
          File "{V}/config/model.py", line 1955, in create_model_config
        {CORE}pydantic_core._pydantic_core.ValidationError: 1 validation error for ModelConfig
        {CORE}  Value error, User-specified max_model_len (1024) is greater than 512
        {CORE}    For further information visit https://errors.pydantic.dev/2.14/v/value_error
        ValueError: a later error
        """)
    assert root_cause(log, ('See stack trace',)) == (
        'pydantic_core._pydantic_core.ValidationError: 1 validation error for ModelConfig\n'
        '  Value error, User-specified max_model_len (1024) is greater than 512')
    assert root_cause('INFO all good\n    except KeyError: pass\n') == ''


def test_the_root_of_an_exception_chain_comes_first_on_one_line():
    def load():
        try:
            {}['weights']
        except KeyError as e:
            raise ValueError('no weights\nin the folder') from e

    try:
        try:
            load()
        except ValueError:
            raise OSError('cannot load the model')  # noqa: B904 (the context, as transformers)
    except OSError as e:
        assert cause(e) == "KeyError: 'weights' (raised as OSError: cannot load the model)"
    try:
        try:
            load()
        except ValueError:
            raise OSError('shown alone') from None
    except OSError as e:
        assert cause(e) == 'OSError: shown alone'


def test_builtin_engine_names_the_root_of_a_wrapped_load_error(tiny_llm_path, tmp_path):
    """A config.json that is not valid JSON: transformers re-raises the JSONDecodeError as
    "OSError: ... is not a valid JSON file"; the reason names the JSONDecodeError first."""
    folder = tmp_path / 'broken-config'
    shutil.copytree(tiny_llm_path, folder)
    config = folder / 'config.json'
    config.write_text(config.read_text().rstrip().rstrip('}') + ',}')     # a trailing comma
    m = lazyllm.TrainableModule(str(folder)).deploy_method(lazyllm.deploy.transformers)
    with pytest.raises(DeployError) as info:
        m.start()
    head, why = str(info.value).splitlines()[:2]
    assert 'exited before it was ready (exit code 4)' in head
    assert why.startswith(f'cannot load the model at {folder}: JSONDecodeError: Expecting '
                          'property name enclosed in double quotes'), why
    assert why.endswith(f"(raised as OSError: It looks like the config file at '{config}' is "
                        'not a valid JSON file.)'), why


# a process that dies of a ValueError re-raised by a later frame as a wrapper, with noise
# between the two in its log
CRASH = textwrap.dedent('''
    import traceback

    def read_weights():
        raise ValueError('shard 3 of 4 is truncated at byte 1024')

    def fail_later(error):
        raise RuntimeError('wrapper') from error

    try:
        read_weights()
    except ValueError as e:
        traceback.print_exc()
        for i in range(25):
            print(f'releasing buffer {i}', flush=True)
        fail_later(e)
''')


@dataclass(frozen=True, repr=False)
class CrashingEngine(Engine):
    """An engine (as a plugin would register one) that overrides no ``failure_reason``."""
    script: str = CRASH

    def argv(self, model_dir, *, host, port, served_name, options, python=sys.executable,
             aliases=()):
        return [python, '-c', self.script]


@pytest.fixture
def crash(tmp_path):
    """crash(script): the DeployError's text when an engine that runs ``script`` starts."""
    (tmp_path / 'config.json').write_text('{}')
    (tmp_path / 'model.safetensors').write_bytes(b'')     # never loaded: the engine crashes

    def start(script):
        engine = lazyllm.deploy.register_engine(CrashingEngine(
            name='test_crashing', types=frozenset({ModelType.LLM}), script=script))
        with pytest.raises(DeployError) as info:
            Deployment(str(tmp_path), type='llm', engine=engine.name).start()
        return str(info.value)
    yield start
    if 'test_crashing' in lazyllm.deploy.engines:
        del lazyllm.deploy.engines['test_crashing']


def test_any_engine_reports_the_root_exception_of_its_process(crash):
    text = crash(CRASH)
    lines = text.splitlines()
    assert 'test_crashing engine' in lines[0] and 'exited before it was ready' in lines[0]
    assert lines[1] == 'ValueError: shard 3 of 4 is truncated at byte 1024'
    assert 'RuntimeError: wrapper' in text       # still in the log lines below


def test_an_engine_killed_by_a_signal_is_said_to_have_crashed(crash):
    """A native crash leaves no traceback: the error names the signal instead of a bare
    negative exit code."""
    head = crash(SEGFAULT).splitlines()[0]
    assert head.endswith('exited before it was ready (exit code -11: killed by SIGSEGV, '
                         'a crash in its native code).'), head
