"""launchers.ray on a real local Ray head (ray[default], loopback only): jobs through the
Jobs REST API, engines and an embedding finetune through TrainableModule, refusals, and a
head lazyllm starts itself."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

import lazyllm
from lazyllm.errors import InputError, LaunchError
from lazyllm.launch import HOST, PORT, RayJob, Resources, get_launcher, launchers
from lazyllm.launch._ray import dashboard_url
from tests.support.clusters import answers, ray_cpus_in_use, ray_job
from tests.support.clusters import running as _running
from tests.support.procs import wait_until
from tests.support.retrieval_task import RECOMMENDED_EMBED_OPTIONS, mean_rank, retrieval_task

SERVER = [sys.executable, '-m', 'http.server', '--bind', HOST, PORT]


# -- addresses and resources, as data ---------------------------------------------------------
@pytest.mark.parametrize('address, fix', [
    ('127.0.0.1:6379', 'http://127.0.0.1:8265'),
    ('auto', 'http://<head>:8265'),
    ('ray://head:10001', 'http://<head>:8265'),
    ('ftp://head', 'http://<head>:8265'),
])
def test_addresses_that_are_not_the_dashboard_are_refused_with_the_fix(address, fix):
    with pytest.raises(InputError) as e:
        dashboard_url(address)
    assert fix in str(e.value)


def test_dashboard_addresses_are_accepted_with_or_without_a_scheme(monkeypatch):
    assert dashboard_url('head:8265') == 'http://head:8265'
    assert dashboard_url('https://head:443/') == 'https://head:443'
    monkeypatch.setenv('RAY_ADDRESS', 'http://10.0.0.5:8265')
    assert launchers.ray().address == 'http://10.0.0.5:8265'
    assert launchers.ray().ref == 'ray:http://10.0.0.5:8265'
    monkeypatch.delenv('RAY_ADDRESS')
    with pytest.raises(LaunchError, match='RAY_ADDRESS'):
        launchers.ray().address
    with pytest.raises(InputError, match='partition'):
        launchers.ray(address='h:8265').check_resources(Resources(partition='gpu'))
    assert launchers.ray(address='h:8265', num_cpus=2).resources == Resources(cpus=2)


def test_the_default_launcher_setting_picks_ray(monkeypatch):
    monkeypatch.setenv('RAY_ADDRESS', 'http://127.0.0.1:8265')
    with lazyllm.config.override(default_launcher='ray'):
        assert isinstance(get_launcher(), launchers.ray)
    monkeypatch.setenv('LAZYLLM_DEFAULT_LAUNCHER', 'ray')
    assert isinstance(get_launcher(), launchers.ray)


# -- jobs on the cluster ----------------------------------------------------------------------
def test_a_job_runs_with_its_resources_answers_and_stop_ends_it(ray_address, jobs):
    job = launchers.ray(num_cpus=1).launch(SERVER, name='files', env={'LAZYLLM_T': 'x'})
    jobs.append(job)
    assert isinstance(job, RayJob) and job.job_id.startswith('lazyllm-files-')
    _running(job)
    info = ray_job(ray_address, job.job_id)
    assert info['status'] == 'RUNNING'
    assert wait_until(lambda: ray_cpus_in_use(ray_address) == 1, 15)   # reported every ~1 s
    assert info['runtime_env']['env_vars'] == {'LAZYLLM_T': 'x'}
    assert job.host == '127.0.0.1' and job.node
    assert answers(job.url), job.logs(20)
    engine = psutil.Process(job.endpoint['pid'])
    assert engine.environ()['LAZYLLM_T'] == 'x'
    assert job.stop() == 'stopped'
    assert ray_job(ray_address, job.job_id)['status'] == 'STOPPED'
    assert wait_until(lambda: not psutil.pid_exists(engine.pid) or
                      engine.status() == psutil.STATUS_ZOMBIE, 15)
    assert 'Serving HTTP' in job.logs(20) and job.log_path.is_file()   # kept for `logs`


@pytest.mark.parametrize('kw, said', [
    ({'num_gpus': 1}, '1 GPUs (the largest node has 0 GPUs)'),
    ({'num_cpus': 64}, '64 CPUs (the largest node has'),
    ({'memory_gb': 4096}, '4096.0 GB of memory (the largest node has'),
])
def test_infeasible_requests_fail_at_once_instead_of_pending_forever(ray_address, kw, said):
    before = httpx.get(ray_address + '/api/jobs/', timeout=10).json()
    started = time.monotonic()
    with pytest.raises(LaunchError) as e:
        launchers.ray(**kw).launch(SERVER, name='impossible')
    assert time.monotonic() - started < 10
    assert said in str(e.value) and 'infeasible' in str(e.value)
    assert len(httpx.get(ray_address + '/api/jobs/', timeout=10).json()) == len(before)


def test_a_job_stopped_from_outside_is_seen_dead_and_others_attach_by_id(ray_address, jobs):
    job = _running(launchers.ray().launch(SERVER, name='victim', detach=True))
    jobs.append(job)
    code = ('from lazyllm.launch import launcher_from_ref\n'
            f'job = launcher_from_ref("ray:{ray_address}").attach("{job.job_id}")\n'
            'print(job.status)\n')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         timeout=120, env=os.environ)
    assert out.stdout.split() == ['running'], out.stderr
    httpx.post(f'{ray_address}/api/jobs/{job.job_id}/stop', timeout=10)
    assert wait_until(lambda: job.ended, 30)
    assert job.status == 'failed'           # not stopped by us: the engine died


# -- engines and finetuning through TrainableModule ------------------------------------------
def test_an_embedding_engine_and_its_finetune_run_on_ray(ray_address, minilm_path, tmp_path):
    pytest.importorskip('FlagEmbedding')
    task = retrieval_task()
    with lazyllm.config.override(default_launcher='ray'):
        m = (lazyllm.TrainableModule(str(minilm_path), target_path=str(tmp_path))
             .finetune_method(lazyllm.finetune.flagembedding,
                              launcher=lazyllm.launchers.ray(num_cpus=2),
                              **RECOMMENDED_EMBED_OPTIONS['flagembedding'])
             .trainset(task.train))
        try:
            m.start(name='on-ray')
            first = m.deployment.job
            assert isinstance(first, RayJob)
            assert ray_job(ray_address, first.job_id)['status'] == 'RUNNING'
            [rec] = [r for r in lazyllm.deployments() if r.name == 'on-ray']
            assert (rec.launcher, rec.job_id) == (f'ray:{ray_address}', first.job_id)

            def rank():
                return mean_rank(m(task.test_queries), m(task.test_docs), task.test_answers)
            before = rank()
            m.update()
            after = rank()
            served = m.deployment.job
        finally:
            m.stop()
    assert after < before - 2, (before, after)
    trained = [j for j in httpx.get(ray_address + '/api/jobs/', timeout=10).json()
               if (j.get('metadata') or {}).get('lazyllm_job', '').startswith(
                   'finetune-flagembedding-')]
    assert trained and trained[-1]['status'] == 'SUCCEEDED'
    run = Path(m.finetuned_model_path)
    assert (run / 'metrics.json').is_file() and (run / '.lazyllm' / 'job.log').is_file()
    assert 'LAZYLLM_ENDPOINT' in (run / '.lazyllm' / 'job.log').read_text()
    assert served.job_id != first.job_id and served.status == 'stopped'
    assert ray_job(ray_address, served.job_id)['status'] == 'STOPPED'


# -- a head of its own ------------------------------------------------------------------------
def test_start_local_starts_a_loopback_head_and_it_ends_with_its_launcher(monkeypatch):
    ray_bin = os.environ.get('LAZYLLM_RAY_BIN')
    if not ray_bin or not os.path.exists(ray_bin):
        if os.environ.get('CI'):
            pytest.fail('LAZYLLM_RAY_BIN is not set: .ci/ray.sh up exports it')
        pytest.skip('set LAZYLLM_RAY_BIN to a `ray` command (bash .ci/ray.sh up /tmp/ray)')
    monkeypatch.delenv('RAY_ADDRESS', raising=False)
    launcher = launchers.ray(start_local=True)
    try:
        job = _running(launcher.launch(SERVER, name='on-own-head'), timeout=120)
        assert launcher.address.startswith('http://127.0.0.1:')
        assert answers(job.url), job.logs(20)
        head = psutil.Process(launcher.head.pid)
        family = [head] + head.children(recursive=True)
        listening = {c.laddr.ip for p in family for c in _connections(p)
                     if c.status == psutil.CONN_LISTEN}
        assert listening and all(ip in ('127.0.0.1', '::ffff:127.0.0.1') for ip in listening), \
            listening
        assert job.stop() == 'stopped'
    finally:
        launcher.stop_head()
    assert wait_until(lambda: not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE
                                      for p in family), 30)


def _connections(proc):
    try:
        return proc.net_connections(kind='tcp')
    except psutil.Error:
        return []
