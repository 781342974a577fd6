"""`lazyllm deploy --launcher slurm|ray`, then ps, logs and stop from other processes."""
import json
import os
import subprocess
import sys

import pytest

from tests.support.clusters import ray_job, squeue


def lazyllm_cli(env, *args, timeout=300):
    return subprocess.run([sys.executable, '-m', 'lazyllm', *args], capture_output=True,
                          text=True, timeout=timeout, env=env)


def _job_alive(launcher, job_id, ray_address):
    if launcher == 'slurm':
        return job_id in squeue()
    return ray_job(ray_address, job_id)['status'] == 'RUNNING'


@pytest.mark.parametrize('launcher', ['slurm', 'ray'])
def test_deploy_ps_logs_and_stop_a_cluster_deployment(launcher, request, tiny_llm_path,
                                                      tmp_path):
    ray_address = request.getfixturevalue('ray_address') if launcher == 'ray' else None
    if launcher == 'slurm':
        request.getfixturevalue('slurm')
    env = {**os.environ, 'LAZYLLM_HOME': str(tmp_path)}
    out = lazyllm_cli(env, 'deploy', str(tiny_llm_path), '--name', 'far', '--launcher',
                      launcher, '--cpus', '1', '--json')
    assert out.returncode == 0, out.stderr[-3000:]
    data = json.loads(out.stdout)
    kind, _, job_id = data['job'].partition(':')
    assert kind == launcher and data['pid'] is None
    try:
        assert _job_alive(launcher, job_id, ray_address)
        ps = lazyllm_cli(env, 'ps')
        assert f'{launcher}:{job_id}' in ps.stdout and 'running' in ps.stdout, ps.stdout
        logs = lazyllm_cli(env, 'logs', 'far', '-n', '200')
        assert logs.returncode == 0 and 'LAZYLLM_ENDPOINT' in logs.stdout, logs.stderr
        stop = lazyllm_cli(env, 'stop', 'far')
        assert stop.returncode == 0 and stop.stdout.strip() == 'stopped far', stop.stderr
        assert not _job_alive(launcher, job_id, ray_address)
        assert 'stopped' in lazyllm_cli(env, 'ps', '--all').stdout
    finally:
        if launcher == 'slurm':
            subprocess.run(['scancel', job_id])
