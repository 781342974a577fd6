"""``lazyllm deploy MODEL``: launch an engine that keeps running after the command returns.

``TrainableModule(MODEL).deploy_method(engine, port=, **options).start(name=, detach=True)``:
it waits until the engine answers, registers it under NAME (``lazyllm ps``) and returns; a
deployment of the same model and options that is already running is reused. ``--detach``
returns at once: the same command runs in a background session, and a ``starting`` row is in
the registry before it returns, so that ``lazyllm ps`` shows it and ``lazyllm stop`` ends it
(ending that deploy process, which stops the engine it was launching) from the first moment.
A deploy process ended by SIGTERM stops the engine it was launching before it exits.
Also ``lazyllm pull NAME``, the short form of ``models pull``.
"""
from __future__ import annotations

import argparse
import json
import signal
import threading
from pathlib import Path
from typing import Any, Iterator

from ..errors import InputError
from ._command import Command, UsageError, register
from ._models_cmd import add_pull_arguments, fetch, pull
from ._progress import to_stderr


class _EngineNames:
    """``--engine``'s choices: ``auto`` and every registered engine, plugins included, read
    only when argparse checks a value or lists them (building the parser loads nothing)."""

    def _names(self) -> list[str]:
        from ..deploy import engines
        return ['auto', *engines.names()]

    def __contains__(self, name: object) -> bool:
        return name in self._names()

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())


ENGINES = _EngineNames()


def parse_option(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` with VALUE parsed as JSON when it parses (``8``, ``true``, ``[1, 2]``),
    else kept as the string."""
    key, sep, value = text.partition('=')
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f'expected KEY=VALUE, got {text!r} '
                                         '(e.g. --option max_batch=8)')
    try:
        return key.strip(), json.loads(value)
    except ValueError:
        return key.strip(), value


def default_name(model: str) -> str:
    """The name a deployment of ``model`` gets without ``--name`` (the model folder's name),
    shared with the gateway's ``POST /v1/deployments``: ``lazyllm.serve.default_name``."""
    from ..serve import default_name as name_of
    return name_of(model)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    set_example(parser, '  lazyllm deploy /models/SmolLM2-135M-Instruct --name smol\n'
                        '  lazyllm deploy Qwen/Qwen2-0.5B-Instruct --engine vllm --port 8000 '
                        '--option max_model_len=4096\n'
                        '  lazyllm deploy bge-m3 --detach   # return now; `lazyllm ps` shows it\n'
                        '  lazyllm deploy /shared/models/qwen2-7b --engine vllm --launcher slurm '
                        '--partition gpu --gpus 2')
    parser.add_argument('model', metavar='MODEL',
                        help='a model folder, a catalog name or a hub repo id (with --config: '
                             'an entry name of the models file)')
    parser.add_argument('--config', metavar='FILE',
                        help='a models file (the AutoModel config map format): deploy its entry '
                             'MODEL, with the engine and options the entry gives')
    parser.add_argument('--config-id', metavar='ID', help='with --config: the entry id to use')
    parser.add_argument('--name', help="the deployment's name (default: the model folder's name)")
    parser.add_argument('--engine', choices=ENGINES, default='auto',
                        help='the engine serving it (default: auto, picked from the model)')
    parser.add_argument('--port', type=int, help='the port to serve on (default: a free one)')
    parser.add_argument('--option', '-o', dest='options', action='append', default=[],
                        type=parse_option, metavar='KEY=VALUE',
                        help='an engine option, repeatable; VALUE is JSON when it parses '
                             '(max_batch=8, enforce_eager=true), else a string')
    where = parser.add_argument_group('where the engine runs')
    where.add_argument('--launcher', choices=['local', 'slurm', 'ray'],
                       help='local, a Slurm batch job, or a Ray job (RAY_ADDRESS); default: '
                            'the default_launcher setting')
    where.add_argument('--partition', help='the Slurm partition')
    where.add_argument('--gpus', type=int, default=0, help='GPUs for the engine')
    where.add_argument('--cpus', type=int, help='CPUs for the engine')
    where.add_argument('--memory-gb', type=float, help='memory for the engine, in GB')
    parser.add_argument('--replicas', type=int, default=1, metavar='N',
                        help='launch N engines: NAME, NAME-2, … NAME-N, which `lazyllm serve` '
                             'serves together as NAME')
    parser.add_argument('--replica-of', metavar='NAME',
                        help='this deployment is one more replica of NAME at the gateway')
    parser.add_argument('--detach', '-d', action='store_true',
                        help='return at once, without waiting for the engine to be ready')
    parser.add_argument('--json', action='store_true',
                        help='print {name, url, model, engine, pid} as JSON')


def _from_flags(args: argparse.Namespace) -> Any:
    import lazyllm
    engine = lazyllm.deploy.get_engine(args.engine) if args.engine != 'auto' \
        else lazyllm.deploy.auto
    return lazyllm.TrainableModule(args.model).deploy_method(
        engine, port=args.port, launcher=_launcher(args), **dict(args.options))


def _from_file(args: argparse.Namespace) -> Any:
    """The TrainableModule the models file's entry describes (AutoModel's config map)."""
    import lazyllm

    from ..module import AutoModel, load_map
    entries = load_map(Path(args.config))
    if args.model not in entries:
        raise InputError(f'{args.config} has no entry {args.model!r}; its entries: '
                         f'{", ".join(sorted(entries)) or "none"}.')
    if AutoModel.decide(args.model, config_id=args.config_id, config=args.config).kind != 'local':
        raise InputError(f'the entry {args.model!r} of {args.config} is an online model: there '
                         f'is nothing to deploy; use it with lazyllm.AutoModel({args.model!r}).')
    return lazyllm.AutoModel(args.model, config=args.config, config_id=args.config_id)


def _check_usage(args: argparse.Namespace) -> None:
    """Flags that exclude or need each other: bad usage (exit 2), found before anything
    runs, a detached deploy included."""
    if args.config_id is not None and not args.config:
        raise UsageError('--config-id needs --config FILE (the models file the id is in).')
    if args.config_id is not None and not args.config_id:
        raise UsageError('--config-id is empty: give the id of an entry.')
    given = [f for f, v in (('--engine', args.engine != 'auto'), ('--option', args.options),
                            ('--port', args.port), ('--launcher', args.launcher)) if v]
    if args.replicas < 1:
        raise UsageError(f'--replicas must be >= 1, got {args.replicas}.')
    if args.replicas > 1 and (args.replica_of or args.port):
        raise UsageError(f'--replicas cannot be combined with '
                         f'{"--replica-of" if args.replica_of else "--port"}: the replicas '
                         'are NAME, NAME-2, …, each on a free port.')
    if args.config and given:
        raise UsageError(f'{", ".join(given)} cannot be combined with --config: the entry '
                         f'{args.model!r} of {args.config} says how to deploy; edit it there '
                         f'(engine:, deploy_config: {{...}}).')


def _launcher(args: argparse.Namespace):
    from ..launch import get_launcher
    resources = {'partition': args.partition, 'gpus': args.gpus, 'cpus': args.cpus,
                 'memory_gb': args.memory_gb}
    return get_launcher(args.launcher, resources={k: v for k, v in resources.items() if v})


def _replicas(args: argparse.Namespace, name: str) -> list[tuple[str, str | None]]:
    """(name, replica_of) of each deployment to launch: ``--replicas N`` gives NAME, then
    NAME-2 … NAME-N as replicas of NAME."""
    return [(name, args.replica_of)] + [(f'{name}-{i}', name)
                                        for i in range(2, args.replicas + 1)]


def _detach(args: argparse.Namespace, name: str, replica_of: str | None) -> dict:
    """The same command in a background session, with its ``starting`` row written before
    returning (``lazyllm.serve.deploy_detached``, also the gateway's way to deploy)."""
    from ..serve import deploy_detached
    resources = {'partition': args.partition, 'gpus': args.gpus, 'cpus': args.cpus,
                 'memory_gb': args.memory_gb}
    launched = deploy_detached(args.model, name, engine=args.engine, options=args.options,
                               port=args.port, launcher=args.launcher, resources=resources,
                               config_file=args.config, config_id=args.config_id,
                               replica_of=replica_of)
    if not args.json:
        print(f'{name} starting (lazyllm ps shows when it is ready)')
        print(f'deploy log: {launched.log}')
    return {'name': name, 'model': args.model, 'engine': args.engine, 'status': 'starting',
            'deploy_pid': launched.process.pid, 'deploy_log': str(launched.log),
            'replica_of': replica_of}


def _stop_on_sigterm(holder: dict) -> None:
    """SIGTERM (``lazyllm stop`` of a deployment this process is launching): the launch in
    progress gives up and stops the engine it launched (it runs in a worker thread, so the
    signal cancels it rather than interrupting the main thread); before a module exists,
    there is nothing to stop and the process just ends."""
    def on_sigterm(signum: int, frame: Any) -> None:
        module = holder.get('module')
        if module is None:
            raise KeyboardInterrupt
        module.deployment.cancel_start()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_sigterm)


def _run(args: argparse.Namespace) -> int:
    _check_usage(args)
    name = args.name or default_name(args.model)
    launches = _replicas(args, name)
    if args.detach:
        _report(args, [_detach(args, n, of) for n, of in launches])
        return 0
    to_stderr()      # waiting for the engine: lines on stderr, not INFO log records
    holder: dict = {}
    _stop_on_sigterm(holder)
    ready: list[dict] = []
    for n, of in launches:
        module = holder['module'] = _from_file(args) if args.config else _from_flags(args)
        if module.deployment.model and not module.deployment.url:   # fetched first
            module.deployment.preflight(before_download=True)      # if it can fit
            fetch(module.deployment.model, source=module.deployment.source,
                  quantization=module.deployment.options.get('quantization'))
        module.start(name=n, detach=True, replica_of=of)
        record = find(n)
        ready.append({'name': record.name, 'url': record.url or module.url,
                      'model': record.model, 'engine': record.engine, 'pid': record.pid,
                      'job': job_label(record), 'replica_of': record.replica_of or None})
        if not args.json:
            print(f'{n} ready at {ready[-1]["url"]} ({ready[-1]["job"]})')
    _report(args, ready)
    return 0


def _report(args: argparse.Namespace, rows: list[dict]) -> None:
    """``--json``: the deployment's object, or the list of them with ``--replicas``."""
    if args.json:
        print_json(rows[0] if args.replicas == 1 else rows)


def _pull_arguments(parser: argparse.ArgumentParser) -> None:
    set_example(parser, '  lazyllm pull qwen2.5-0.5b\n'
                        '  lazyllm pull BAAI/bge-m3 --source modelscope --json')
    add_pull_arguments(parser)


register(Command('deploy', 'deploy a model on an engine that keeps running (see lazyllm ps)',
                 _add_arguments, _run))
register(Command('pull', "download a model and print its folder (= 'lazyllm models pull')",
                 _pull_arguments, pull))

# after registering, so that `deploy` and `pull` come before `ps` in `lazyllm --help`
from ._ps_cmd import find, job_label, print_json, set_example  # noqa: E402
