"""The real single-node clusters these tests run on.

``.ci/run`` starts them (``.ci/slurm.sh up``, ``.ci/ray.sh up``) and exports where they are
(``SLURM_CONF``, ``RAY_ADDRESS``, ``LAZYLLM_RAY_BIN``). Outside CI a missing cluster skips
these tests with the command that starts it; in CI (``CI=true``) it fails them, so a broken
cluster can never pass as skipped tests.
"""
from __future__ import annotations

import os
import shutil
import subprocess

import httpx
import pytest


def _missing(what: str, how: str) -> None:
    message = f'{what} is not running: start it with `{how}` and source the env.sh it writes'
    if os.environ.get('CI'):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope='session')
def slurm():
    """The Slurm cluster: its partitions (sinfo answers, the node is up)."""
    if shutil.which('sinfo') is None:
        _missing('Slurm', 'bash .ci/slurm.sh up /tmp/slurm')
    out = subprocess.run(['sinfo', '-h', '-o', '%P %t'], capture_output=True, text=True,
                         timeout=30)
    if out.returncode != 0 or 'idle' not in out.stdout and 'mix' not in out.stdout:
        _missing('Slurm', 'bash .ci/slurm.sh up /tmp/slurm')
    return [line.split()[0].rstrip('*') for line in out.stdout.splitlines()]


@pytest.fixture(scope='session')
def ray_address():
    """The dashboard URL of the Ray head (RAY_ADDRESS)."""
    address = os.environ.get('RAY_ADDRESS', '')
    try:
        ok = address.startswith('http') and httpx.get(address + '/api/version',
                                                      timeout=5).status_code == 200
    except httpx.HTTPError:
        ok = False
    if not ok:
        _missing('Ray', 'bash .ci/ray.sh up /tmp/ray')
    return address


@pytest.fixture
def jobs():
    """Jobs a test launched; each is stopped at the end."""
    started = []
    yield started
    for job in started:
        job.stop()
