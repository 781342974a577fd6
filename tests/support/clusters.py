"""Helpers for tests on the real Slurm and Ray clusters (tests/launch/cluster)."""
from __future__ import annotations

import subprocess

import httpx

from tests.support.procs import wait_until


def answers(url: str, timeout: float = 30) -> bool:
    """Whether ``url`` answers 200 within ``timeout`` seconds. A job announces its URL once
    it picked its port, a moment before its server listens (longer on a loaded machine), so
    a test polls the URL as a user's readiness check would."""
    def ok() -> bool:
        try:
            return httpx.get(url, timeout=5).status_code == 200
        except httpx.TransportError:
            return False
    return wait_until(ok, timeout, interval=0.2)


def squeue() -> list[str]:
    """Ids of the jobs Slurm has queued or running."""
    out = subprocess.run(['squeue', '-h', '-o', '%i'], capture_output=True, text=True,
                         check=True, timeout=30)
    return out.stdout.split()


def ray_job(address: str, submission_id: str) -> dict:
    return httpx.get(f'{address}/api/jobs/{submission_id}', timeout=10).json()


def ray_cpus_in_use(address: str) -> float:
    """CPUs that running Ray tasks and jobs hold now (what entrypoint_num_cpus reserves)."""
    status = httpx.get(f'{address}/api/cluster_status', timeout=10).json()
    return status['data']['clusterStatus']['loadMetricsReport']['usage']['CPU'][0]


def running(job, timeout=60):
    """``job`` once it runs and has announced its URL (the test fails with its state if not)."""
    assert wait_until(lambda: job.url is not None and job.status == 'running', timeout), \
        (job, job.reason, job.logs(20))
    return job
