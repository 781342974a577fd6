"""The Slurm launcher: each job is a batch job submitted with ``sbatch``.

    launcher = lazyllm.launchers.slurm(partition='gpu', ngpus=2)
    m = lazyllm.TrainableModule(model).deploy_method(lazyllm.deploy.vllm, launcher=launcher)

``_start`` writes a batch script (``#SBATCH`` lines for the resources, then ``exec`` of the
node script ``_node.py`` which fills in the node's address and a free port and execs the
engine), submits it with ``sbatch --parsable`` and returns at once; a refusal (unknown
partition, more GPUs than a node has) is a ``LaunchError`` carrying sbatch's own words.

The job's state comes from ``scontrol show job`` (it works with accounting off; a job that
ended more than ``MinJobAge`` ago is forgotten by the controller and counts as ended). The
job's output file, in lazyllm's log folder, is its log; lazyllm's home must therefore be
on a filesystem the nodes share, as the model folders must be. ``stop()`` is ``scancel``
(SIGTERM, then SIGKILL after the cluster's KillWait), then ``scancel --signal=KILL`` after
the timeout. ``ngpus`` becomes ``--gres=gpu:N``; Slurm sets ``CUDA_VISIBLE_DEVICES`` on the
node. No site- or vendor-specific flag is emitted: add those with ``extra_args``.
"""
from __future__ import annotations

import math
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .._log import get_logger
from ..errors import InputError, LaunchError
from ._base import (
    Launcher,
    Resources,
    Status,
    log_dir,
    merged_env,
    stop_at_exit,
)
from ._polled import PolledJob, check_poll, one_node

__all__ = ['SlurmLauncher', 'SlurmJob']

_NODE_SCRIPT = str(Path(__file__).with_name('_node.py'))
_PENDING = {'PENDING', 'CONFIGURING', 'REQUEUED', 'REQUEUE_HOLD', 'REQUEUE_FED',
            'RESV_DEL_HOLD', 'SUSPENDED', 'STOPPED', 'SIGNALING'}
_RUNNING = {'RUNNING', 'COMPLETING', 'STAGE_OUT', 'RESIZING'}
# reasons for which a pending job will never start as submitted (it would wait forever)
_HOPELESS = {'PartitionConfig', 'PartitionNodeLimit', 'PartitionTimeLimit', 'BadConstraints',
             'InvalidAccount', 'InvalidQOS', 'AccountNotAllowed', 'QOSNotAllowed'}
_FIRST_DECISION = 5.0     # seconds to wait for the scheduler's first look at a new job
_HINTS = {
    'invalid partition': 'list the partitions with `sinfo -s` and pass one of them as '
                         'partition=',
    'node configuration is not available': 'ask for no more than one node has (see '
                                           "`sinfo -o '%P %c %m %G'`): fewer ngpus, cpus or "
                                           'memory_gb, or another partition',
    'time limit': 'ask for a shorter time_limit (see the partition\'s MaxTime in `sinfo`)',
    'invalid generic resource': 'this cluster has no such GRES: drop ngpus or pick a '
                                'partition whose nodes have GPUs',
}


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise LaunchError(f'Slurm\'s {name} is not on PATH: run lazyllm on a machine of the '
                          f'cluster (a login node) or add Slurm\'s bin folder to PATH.')
    return path


def _run(argv: list[str], **kw: Any) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=60, **kw)
    except subprocess.TimeoutExpired:
        raise LaunchError(f'{" ".join(argv[:2])} did not answer in 60 s: the Slurm '
                          f'controller may be down (try `sinfo`).') from None


def _duration(seconds: float) -> str:
    """Seconds as Slurm's ``D-HH:MM:SS``, rounded up to whole minutes (Slurm's unit)."""
    minutes = math.ceil(seconds / 60)
    days, minutes = divmod(minutes, 24 * 60)
    return f'{days}-{minutes // 60:02d}:{minutes % 60:02d}:00'


def batch_script(argv: list[str], *, name: str, resources: Resources, output: str,
                 python: str = sys.executable) -> str:
    """The batch script for ``argv`` (pure: tests read it as data)."""
    lines = ['#!/bin/bash', f'#SBATCH --job-name=lazyllm-{name}', f'#SBATCH --output={output}',
             '#SBATCH --open-mode=append', '#SBATCH --nodes=1', '#SBATCH --ntasks=1']
    r = resources
    if r.partition:
        lines.append(f'#SBATCH --partition={r.partition}')
    if r.cpus:
        lines.append(f'#SBATCH --cpus-per-task={r.cpus}')
    if r.memory_gb:
        lines.append(f'#SBATCH --mem={math.ceil(r.memory_gb * 1024)}M')
    if r.gpus:
        lines.append(f'#SBATCH --gres=gpu:{r.gpus}')
    if r.time_limit:
        lines.append(f'#SBATCH --time={_duration(r.time_limit)}')
    lines.append('exec ' + shlex.join([python, '-I', '-S', _NODE_SCRIPT, '--', *argv]))
    return '\n'.join(lines) + '\n'


def _refusal(name: str, stderr: str) -> LaunchError:
    said = ' '.join(line.strip() for line in stderr.strip().splitlines()) or 'no reason given'
    hint = next((h for k, h in _HINTS.items() if k in said.lower()), 'fix the request, or '
                'ask the cluster\'s administrators')
    return LaunchError(f'Slurm refused the job {name!r}: {said}. Fix: {hint}.')


class SlurmJob(PolledJob):
    """A Slurm batch job, followed through ``scontrol show job``."""

    def __init__(self, job_id: str, *, name: str, argv: Any = (), log_path: Any = '',
                 poll: float = 1.0):
        super().__init__(job_id, name=name, argv=argv, log_path=Path(log_path or os.devnull),
                         poll=poll)
        if not log_path:            # attached by id: the controller knows the output file
            out = self._facts(fresh=True).get('StdOut')
            if out:
                self.log_path = Path(out)

    def _fetch(self) -> dict[str, str]:
        """``scontrol show job -o`` as a dict; {} once the controller forgot the job."""
        done = _run([_tool('scontrol'), 'show', 'job', '-o', self._id])
        if done.returncode != 0 and 'Invalid job id' not in done.stderr:
            raise LaunchError(f'scontrol cannot tell the state of Slurm job {self._id}: '
                              f'{done.stderr.strip()}')
        fields = (item.partition('=') for item in done.stdout.split())
        return {key: value for key, sep, value in fields if sep}

    @property
    def state(self) -> str:
        """Slurm's JobState ('PENDING', 'RUNNING', 'COMPLETED', …; 'UNKNOWN' when gone)."""
        return self._facts().get('JobState', 'UNKNOWN')

    @property
    def status(self) -> Status:
        state = self.state
        if state in _PENDING:
            return 'pending'
        if state in _RUNNING:
            return 'running'
        if self._stopped:
            return 'stopped'
        if state in ('COMPLETED', 'UNKNOWN'):
            return 'exited'
        return 'failed'   # FAILED, TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, CANCELLED by others…

    @property
    def reason(self) -> str:
        reason = self._facts().get('Reason', '')
        return '' if reason in ('None', '(null)') else reason

    @property
    def node(self) -> str | None:
        host = self._facts().get('BatchHost')
        return host if host and host != '(null)' else None

    @property
    def returncode(self) -> int | None:
        code = self._facts().get('ExitCode')
        if not code or not self.ended:
            return None
        status, _, signal = code.partition(':')
        return -int(signal) if signal.isdigit() and int(signal) else int(status or 0)

    def _cancel(self, force: bool) -> None:
        _run([_tool('scancel'), *(['--signal=KILL', '--full'] if force else []), self._id])


class SlurmLauncher(Launcher):
    """Runs jobs as Slurm batch jobs; see the module docstring.

    ``partition``, ``ngpus``, ``cpus``, ``memory_gb``, ``time_limit`` (seconds) and
    ``extra_args`` (passed to sbatch as they are, e.g. ``['--qos=high']``) are the defaults
    of every job; ``resources=`` of one launch overrides them. ``poll`` is how often, at
    most, the controller is asked for a job's state.
    """

    name = 'slurm'

    def __init__(self, partition: str | None = None, ngpus: int = 0, cpus: int | None = None,
                 memory_gb: float | None = None, time_limit: float | None = None,
                 extra_args: Any = (), *, resources: Any = None, poll: float = 1.0):
        mine = Resources(cpus=cpus, memory_gb=memory_gb, gpus=ngpus, time_limit=time_limit,
                         partition=partition, extra_args=extra_args)
        super().__init__(mine.over(Resources.of(resources)))
        self.poll = check_poll(poll)

    def check_resources(self, resources: Resources) -> Resources:
        return one_node(resources)

    def _start(self, argv: list[str], *, env: dict[str, str | None], name: str,
               resources: Resources, detach: bool = False) -> SlurmJob:
        sbatch = _tool('sbatch')
        folder = log_dir()
        stamp = time.strftime('%Y%m%d-%H%M%S')
        output = str(folder / f'{name}-{stamp}-%j.log')
        script = folder / f'.{name}-{stamp}-{os.getpid()}.sbatch'
        script.write_text(batch_script(argv, name=name, resources=resources, output=output))
        try:
            done = _run([sbatch, '--parsable', *resources.extra_args, str(script)],
                        env=merged_env(env))
        finally:
            script.unlink(missing_ok=True)
        if done.returncode != 0:
            raise _refusal(name, done.stderr or done.stdout)
        job_id = done.stdout.strip().split(';')[0]
        job = SlurmJob(job_id, name=name, argv=argv, log_path=output.replace('%j', job_id),
                       poll=self.poll)
        if not detach:
            stop_at_exit(job)
        get_logger().info('submitted %s as Slurm job %s%s, log: %s', name, job_id,
                          ', detached' if detach else '', job.log_path)
        self._refuse_if_hopeless(job)
        return job

    @staticmethod
    def _refuse_if_hopeless(job: SlurmJob) -> None:
        """sbatch accepts some jobs that can never run (more CPUs than a partition's nodes
        have, unless the cluster sets EnforcePartLimits); the scheduler's first look says
        so in the job's Reason. Such a job is cancelled and refused now, not left queued."""
        deadline = time.monotonic() + _FIRST_DECISION
        while job.status == 'pending' and not job.reason and time.monotonic() < deadline:
            time.sleep(0.2)
        reason = job.reason if job.status == 'pending' else ''
        if reason in _HOPELESS or (reason.startswith('QOSMax') and 'PerJob' in reason):
            job.stop()
            raise LaunchError(f'Slurm accepted job {job.job_id} ({job.name}) but will never '
                              f'start it: Reason={reason} (the request exceeds what the '
                              f'partition or account allows). Fix: ask for no more than one '
                              f"node has (see `sinfo -o '%P %c %m %G %l'`): fewer ngpus, "
                              f'cpus or memory_gb, a shorter time_limit, or another '
                              f'partition. The job was cancelled.')

    def attach(self, job_id: str, *, log_path: Any = '', name: str = 'job') -> SlurmJob:
        if not str(job_id).strip().isdigit():
            raise InputError(f'a Slurm job id is a number such as "1234", not {job_id!r}.')
        return SlurmJob(str(job_id).strip(), name=name, log_path=log_path, poll=self.poll)
