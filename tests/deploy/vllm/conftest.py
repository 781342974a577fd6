"""vLLM tests: real vLLM servers, run under the interpreter of a separate venv.

The interpreter is ``$LAZYLLM_VLLM_PYTHON`` or ``<repo>/.venv-vllm/bin/python`` (made by
``bash .ci/install-vllm.sh``). Tests that need it take the ``vllm_python`` fixture and are
skipped, with the reason, when it is missing. Servers are module-scoped and started one at a
time (each test module starts at most one), eager, with a small context and KV cache.
"""
import os
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SERVER = dict(enforce_eager=True, max_model_len=1024, kv_cache_memory_bytes=256 << 20,
              gpu_memory_utilization=0.2)
READY_TIMES: dict = {}     # module -> seconds to ready, printed at the end of the session


def find_vllm_python() -> Path | None:
    given = os.environ.get('LAZYLLM_VLLM_PYTHON')
    exe = Path(given) if given else REPO / '.venv-vllm' / 'bin' / 'python'
    if not exe.exists():
        return None
    venv = exe.parent.parent
    if (venv / 'pyvenv.cfg').exists() and \
            not any(venv.glob('lib/python3*/site-packages/vllm/__init__.py')):
        return None
    return exe


@pytest.fixture(scope='session')
def vllm_python():
    exe = find_vllm_python()
    if exe is None:
        where = os.environ.get('LAZYLLM_VLLM_PYTHON') or REPO / '.venv-vllm' / 'bin' / 'python'
        pytest.skip(f'no vLLM interpreter at {where}: run `bash .ci/install-vllm.sh '
                    f'{REPO / ".venv-vllm"}` or set LAZYLLM_VLLM_PYTHON')
    return str(exe)


@pytest.fixture(scope='session')
def server_options():
    """Options for a small vLLM server on this CPU."""
    return dict(SERVER)


@pytest.fixture(scope='session')
def timed_start():
    """start(module, key): start the module and record its time to ready."""
    def start(module, key):
        t = time.monotonic()
        module.start()
        READY_TIMES[key] = time.monotonic() - t
        sys.stderr.write(f'\n[vllm] {key}: ready in {READY_TIMES[key]:.1f}s\n')
        return module
    return start


def pytest_terminal_summary(terminalreporter):
    if READY_TIMES:
        terminalreporter.write_line('vLLM time to ready: ' + ', '.join(
            f'{k} {v:.1f}s' for k, v in READY_TIMES.items()))
