"""Serve a model on a Slurm or Ray cluster: the same TrainableModule code as on this machine,
only the launcher changes.

    python examples/on_a_cluster.py MODEL_FOLDER --launcher slurm [--partition P] [--ngpus N]
    RAY_ADDRESS=http://HEAD:8265 python examples/on_a_cluster.py MODEL_FOLDER --launcher ray

The model folder (and lazyllm's home, where the job's log goes) must be on a filesystem the
cluster's nodes share. To try it on one machine, start a single-node cluster first:
``bash .ci/slurm.sh up /tmp/slurm && source /tmp/slurm/env.sh`` or
``bash .ci/ray.sh up /tmp/ray && source /tmp/ray/env.sh``.
"""
import argparse

import lazyllm


def launcher_from(args: argparse.Namespace):
    if args.launcher == 'slurm':
        return lazyllm.launchers.slurm(partition=args.partition, ngpus=args.ngpus)
    return lazyllm.launchers.ray(num_cpus=args.num_cpus, num_gpus=args.ngpus)


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('model', help='a model folder (or a name the hub knows)')
    parser.add_argument('--launcher', choices=['slurm', 'ray'], required=True)
    parser.add_argument('--partition', help='Slurm partition (default: the cluster default)')
    parser.add_argument('--ngpus', type=int, default=0, help='GPUs for the engine')
    parser.add_argument('--num-cpus', type=int, default=None, help='CPUs to reserve (Ray)')
    args = parser.parse_args()

    m = lazyllm.TrainableModule(args.model).deploy_method(launcher=launcher_from(args))
    with m.start():
        job = m.deployment.job
        print(f'{args.launcher} job {job.job_id} runs on {job.node} at {m.deployment.url}')
        print('answer:', m('What is the capital of France? Answer in one sentence.',
                           temperature=0, max_tokens=20))
    print('job after stop():', job.status)
