"""launchers.slurm on a real single-node Slurm cluster (slurm-wlm + munge, fake GPUs on
mknod devices through GRES): jobs, engines through TrainableModule, refusals."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx
import pytest

import lazyllm
from lazyllm.errors import InputError, LaunchError
from lazyllm.launch import HOST, PORT, Resources, SlurmJob, launchers
from lazyllm.launch._slurm import batch_script
from tests.support.clusters import answers, squeue
from tests.support.clusters import running as _running
from tests.support.procs import wait_until

SERVER = [sys.executable, '-m', 'http.server', '--bind', HOST, PORT]


def _environ(job):
    """The environment the job's program started with. Read only once the program answers:
    the node script announces its pid before it execs the program, and while the kernel
    runs that exec, /proc/PID/environ reads empty (seen on a loaded machine)."""
    assert answers(job.url), job.logs(20)
    with open(f'/proc/{_endpoint(job)["pid"]}/environ', 'rb') as f:
        pairs = [item.split(b'=', 1) for item in f.read().split(b'\0') if b'=' in item]
    return {k.decode(): v.decode() for k, v in pairs}


def _endpoint(job):
    """What the node script announced (host, port, node, pid, CUDA_VISIBLE_DEVICES), read
    from the job's log as a user would, and as the job itself read it."""
    line = json.loads(job.logs(50).split('LAZYLLM_ENDPOINT ', 1)[1].splitlines()[0])
    assert line == job.endpoint
    return line


# -- the batch script, as data ----------------------------------------------------------------
def test_the_batch_script_asks_for_what_the_resources_say_and_nothing_else():
    r = Resources(cpus=4, memory_gb=1.5, gpus=2, time_limit=3700, partition='gpu')
    script = batch_script(['python', '-m', 'engine', '--port', PORT], name='e', resources=r,
                          output='/logs/e-%j.log', python='/venv/bin/python')
    sbatch = [line for line in script.splitlines() if line.startswith('#SBATCH')]
    assert sbatch == ['#SBATCH --job-name=lazyllm-e', '#SBATCH --output=/logs/e-%j.log',
                      '#SBATCH --open-mode=append', '#SBATCH --nodes=1', '#SBATCH --ntasks=1',
                      '#SBATCH --partition=gpu', '#SBATCH --cpus-per-task=4',
                      '#SBATCH --mem=1536M', '#SBATCH --gres=gpu:2',
                      '#SBATCH --time=0-01:02:00']
    assert script.splitlines()[-1].startswith('exec /venv/bin/python -I -S ')
    assert script.splitlines()[-1].endswith("-- python -m engine --port '{lazyllm.port}'")
    bare = batch_script(['x'], name='e', resources=Resources(), output='/o')
    assert not any(flag in bare for flag in ('--partition', '--gres', '--mem', '--time',
                                            '--cpus', '--gpus', '--constraint', '--account'))


def test_launcher_defaults_and_per_launch_resources_combine():
    launcher = launchers.slurm(partition='batch', ngpus=1, time_limit=60)
    assert launcher.resources == Resources(gpus=1, partition='batch', time_limit=60)
    assert Resources(cpus=2).over(launcher.resources) == Resources(
        cpus=2, gpus=1, partition='batch', time_limit=60)
    with pytest.raises(InputError, match='nodes=2'):
        launcher.check_resources(Resources(nodes=2))
    with pytest.raises(InputError, match='gpus'):
        launchers.slurm(ngpus=-1)
    with pytest.raises(InputError, match='Slurm job id'):
        launcher.attach('abc')


# -- jobs on the cluster ----------------------------------------------------------------------
def test_a_job_runs_on_the_node_answers_at_its_url_and_stop_cancels_it(slurm, jobs):
    job = launchers.slurm().launch(SERVER, name='files', env={'LAZYLLM_T': 'x'})
    jobs.append(job)
    assert isinstance(job, SlurmJob) and job.job_id.isdigit()
    _running(job)
    assert job.job_id in squeue()
    assert job.node == 'localhost'
    assert job.host == '127.0.0.1'          # the node's NodeAddr in slurm.conf
    assert answers(job.url), job.logs(20)
    endpoint = _endpoint(job)
    assert endpoint['port'] == job.port
    assert _environ(job)['LAZYLLM_T'] == 'x'   # env reaches the job
    assert job.stop() == 'stopped'
    assert job.job_id not in squeue()
    assert job.returncode == -15            # ended by scancel's SIGTERM
    with pytest.raises(httpx.HTTPError):
        httpx.get(job.url, timeout=2)


def test_fake_gpus_reach_the_job_as_cuda_visible_devices(slurm, jobs):
    one = _running(launchers.slurm(ngpus=1).launch(SERVER, name='gpu1'))
    jobs.append(one)
    seen = _endpoint(one)
    assert seen['cuda_visible_devices'] in ('0', '1')
    assert _environ(one)['CUDA_VISIBLE_DEVICES'] == seen['cuda_visible_devices']
    # the node has two GPUs: a job asking for both waits in the queue until one is free
    both = launchers.slurm().launch(SERVER, name='gpu2', resources={'gpus': 2})
    jobs.append(both)
    assert wait_until(lambda: both.reason == 'Resources', 30), (both.status, both.reason)
    assert both.status == 'pending' and both.url is None
    one.stop()
    _running(both)
    assert _endpoint(both)['cuda_visible_devices'] == '0,1'
    both.stop()
    none = _running(launchers.slurm().launch(SERVER, name='gpu0'))
    jobs.append(none)
    assert not _environ(none).get('CUDA_VISIBLE_DEVICES')


@pytest.mark.parametrize('kw, said, fix', [
    ({'partition': 'nosuch'}, 'invalid partition', 'sinfo -s'),
    ({'ngpus': 3}, 'Requested node configuration is not available', 'fewer ngpus'),
    ({'cpus': 64}, 'Reason=PartitionConfig', 'fewer ngpus'),
])
def test_impossible_requests_fail_at_once_with_slurms_reason(slurm, kw, said, fix):
    before = squeue()
    started = time.monotonic()
    with pytest.raises(LaunchError) as e:
        launchers.slurm(**kw).launch(SERVER, name='impossible')
    assert time.monotonic() - started < 10
    assert said in str(e.value) and fix in str(e.value)
    assert squeue() == before


def test_a_job_cancelled_from_outside_is_seen_dead(slurm, jobs):
    job = _running(launchers.slurm().launch(SERVER, name='victim'))
    jobs.append(job)
    subprocess.run(['scancel', job.job_id], check=True)
    assert wait_until(lambda: job.ended, 30)
    assert job.status == 'failed'           # not stopped by us: the engine died


def test_another_process_attaches_by_job_id_and_stops_the_job(slurm, jobs):
    job = _running(launchers.slurm().launch(SERVER, name='shared', detach=True))
    jobs.append(job)
    code = ('import sys, lazyllm\n'
            'from lazyllm.launch import launcher_from_ref\n'
            f'job = launcher_from_ref("slurm").attach("{job.job_id}")\n'
            'print(job.status, job.log_path.name)\n'
            'print(job.stop())\n')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         timeout=120, env=os.environ)
    assert out.returncode == 0, out.stderr
    status, log_name, stopped = out.stdout.split()
    assert (status, stopped) == ('running', 'stopped')
    assert log_name == job.log_path.name    # from scontrol's StdOut
    assert wait_until(lambda: job.ended, 30) and job.job_id not in squeue()


def test_a_detached_job_outlives_its_launcher_and_others_are_cancelled_at_exit(slurm):
    code = ('import sys, lazyllm\n'
            'from lazyllm.launch import launchers, HOST, PORT\n'
            'argv = [sys.executable, "-m", "http.server", "--bind", HOST, PORT]\n'
            'kept = launchers.slurm().launch(argv, name="kept", detach=True)\n'
            'gone = launchers.slurm().launch(argv, name="gone")\n'
            'print(kept.job_id, gone.job_id)\n')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         timeout=120, env=os.environ)
    assert out.returncode == 0, out.stderr
    kept, gone = out.stdout.split()
    try:
        assert wait_until(lambda: gone not in squeue(), 30)
        assert kept in squeue()
    finally:
        subprocess.run(['scancel', kept], check=True)


# -- engines through TrainableModule ----------------------------------------------------------
def test_an_engine_on_slurm_answers_through_trainable_module(slurm, tiny_llm_path):
    m = lazyllm.TrainableModule(tiny_llm_path).deploy_method(
        lazyllm.deploy.transformers, launcher=launchers.slurm(), api_key='slurm-secret')
    try:
        m.start(name='on-slurm')
        job = m.deployment.job
        assert isinstance(job, SlurmJob) and job.job_id in squeue()
        assert isinstance(m('hello', max_tokens=3), str)
        # the engine on the node still requires the key
        assert httpx.get(m.deployment.url + 'models', timeout=10).status_code == 401
        [rec] = [r for r in lazyllm.deployments() if r.name == 'on-slurm']
        assert (rec.launcher, rec.job_id, rec.status) == ('slurm', job.job_id, 'running')
        ps = subprocess.run([sys.executable, '-m', 'lazyllm', 'ps'], capture_output=True,
                            text=True, timeout=120, env=os.environ)
        assert f'slurm:{job.job_id}' in ps.stdout, ps.stdout + ps.stderr

        # killed from outside: seen as dead, and the next start launches a new job
        subprocess.run(['scancel', job.job_id], check=True)
        assert wait_until(lambda: m.deployment.state == 'failed', 30)
        m.start(name='on-slurm')
        assert m.deployment.job.job_id != job.job_id
        assert isinstance(m('hello again', max_tokens=3), str)
        job = m.deployment.job
        [rec] = [r for r in lazyllm.deployments() if r.name == 'on-slurm']
        assert (rec.job_id, rec.status) == (job.job_id, 'running')
    finally:
        m.stop()
    assert job.status == 'stopped' and job.job_id not in squeue()


def test_a_lora_finetune_runs_as_a_slurm_job_and_its_weights_are_served(slurm, tiny_llm_path,
                                                                        tmp_path):
    pytest.importorskip('peft')
    from tests.support.lora_task import TINY_OPTIONS, TRAINED_PROMPT, lora_task
    m = (lazyllm.TrainableModule(str(tiny_llm_path), target_path=str(tmp_path / 'runs'))
         .finetune_method(lazyllm.finetune.lora, launcher=launchers.slurm(cpus=1),
                          **TINY_OPTIONS)
         .trainset(lora_task()))
    try:
        before = m.start()(TRAINED_PROMPT, temperature=0, max_tokens=16)
        m.update()
        after = m(TRAINED_PROMPT, temperature=0, max_tokens=16)
    finally:
        m.stop()
    run = tmp_path / 'runs' / m.finetuned_model_path.rsplit('/', 1)[-1]
    metrics = json.loads((run / 'metrics.json').read_text())
    assert metrics['final_loss'] < metrics['first_loss'] and after != before
    log = (run / '.lazyllm' / 'job.log').read_text()
    assert '"node": ' in log and 'LAZYLLM_ENDPOINT' in log      # it ran through sbatch
    assert squeue() == []
