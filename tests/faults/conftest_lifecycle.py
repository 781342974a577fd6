"""Helpers shared by the lifecycle fault tests (imported explicitly, not a conftest): the
``lazyllm`` CLI run as a user runs it, in a home of the test's own, and the processes of a
deployment found by name."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import psutil

ENGINE = 'lazyllm.deploy.servers'
DEPLOY_TIMEOUT = 240


def lazyllm_cli(env: dict, *args, timeout: float = DEPLOY_TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', 'lazyllm', *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=timeout)


def ps(env: dict, *flags: str) -> dict:
    """``lazyllm ps --json`` as {name: row}."""
    out = lazyllm_cli(env, 'ps', '--json', *flags, timeout=60)
    assert out.returncode == 0, out.stderr
    return {r['name']: r for r in json.loads(out.stdout)}


def processes_of(name: str) -> list[int]:
    """Live processes of the deployment ``name``: its engine (served under that name) and the
    ``lazyllm deploy`` process launching it."""
    found = []
    for p in psutil.process_iter(['cmdline', 'status']):
        try:
            argv = p.info['cmdline'] or []
            if p.info['status'] == psutil.STATUS_ZOMBIE or name not in argv:
                continue
            if any(ENGINE in a for a in argv) or ('lazyllm' in argv and 'deploy' in argv):
                found.append(p.pid)
        except psutil.Error:
            pass
    return found


def end_all(env: dict) -> None:
    """Teardown: stop every deployment of the home, and any engine `stop` could not reach."""
    listed = lazyllm_cli(env, 'ps', '--all', '--json', timeout=60)
    lazyllm_cli(env, 'stop', '--all', timeout=120)
    for rec in json.loads(listed.stdout or '[]'):
        for pid in processes_of(rec['name']):
            try:
                os.killpg(os.getpgid(pid), 9)
            except (ProcessLookupError, PermissionError):
                pass
