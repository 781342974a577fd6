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
import os
import signal
import subprocess
import sys
import threading
import time
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
    """The model folder's name: ``/models/SmolLM2-135M/`` and ``org/SmolLM2-135M`` give
    ``SmolLM2-135M``; a GGUF file's without the suffix (``smol.Q4_1.gguf``: ``smol.Q4_1``)."""
    name = Path(model.rstrip('/\\')).name or model
    return name[:-5] if name.lower().endswith('.gguf') and len(name) > 5 else name


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
    parser.add_argument('--detach', '-d', action='store_true',
                        help='return at once, without waiting for the engine to be ready')
    parser.add_argument('--json', action='store_true',
                        help='print {name, url, model, engine, pid} as JSON')


def _child_argv(args: argparse.Namespace, name: str) -> list[str]:
    argv = ['deploy', args.model, '--name', name, '--engine', args.engine]
    if args.config:
        argv += ['--config', os.path.abspath(args.config)]
        argv += ['--config-id', args.config_id] if args.config_id else []
    if args.port is not None:
        argv += ['--port', str(args.port)]
    for key, value in args.options:
        argv += ['--option', f'{key}={json.dumps(value)}']
    for flag in ('launcher', 'partition', 'gpus', 'cpus', 'memory_gb'):
        value = getattr(args, flag)
        if value:
            argv += ['--' + flag.replace('_', '-'), str(value)]
    return argv


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
    if args.config and given:
        raise UsageError(f'{", ".join(given)} cannot be combined with --config: the entry '
                         f'{args.model!r} of {args.config} says how to deploy; edit it there '
                         f'(engine:, deploy_config: {{...}}).')


def _launcher(args: argparse.Namespace):
    from ..launch import get_launcher
    resources = {'partition': args.partition, 'gpus': args.gpus, 'cpus': args.cpus,
                 'memory_gb': args.memory_gb}
    return get_launcher(args.launcher, resources={k: v for k, v in resources.items() if v})


def _detach(args: argparse.Namespace, name: str) -> int:
    from .._config import config
    from ..registry import Record, Registry, check_name
    check_name(name)
    logs = config.home() / 'logs'
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f'deploy-{name}-{time.strftime("%Y%m%d-%H%M%S")}.log'
    reg = Registry()
    existing = reg.get(name)
    with open(log, 'ab') as out:
        proc = subprocess.Popen([sys.executable, '-m', 'lazyllm', *_child_argv(args, name)],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    # a row now, before returning: `ps` shows it and `stop` ends the deploy process (which
    # stops its engine); a live deployment of that name is left as it is (the child reuses
    # it, or refuses another configuration in its log)
    if existing is None or existing.status not in ('running', 'starting'):
        reg.put(Record(name=name, model=args.model, engine=args.engine, owner_pid=proc.pid,
                       detached=True, status='starting', log_path=str(log)))
    if args.json:
        print_json({'name': name, 'model': args.model, 'engine': args.engine,
                    'status': 'starting', 'deploy_pid': proc.pid, 'deploy_log': str(log)})
    else:
        print(f'{name} starting (lazyllm ps shows when it is ready)')
        print(f'deploy log: {log}')
    return 0


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
    if args.detach:
        return _detach(args, name)
    to_stderr()      # waiting for the engine: lines on stderr, not INFO log records
    holder: dict = {}
    _stop_on_sigterm(holder)
    module = holder['module'] = _from_file(args) if args.config else _from_flags(args)
    if module.deployment.model and not module.deployment.url:   # fetched first, with progress
        module.deployment.preflight(before_download=True)      # if it can fit
        fetch(module.deployment.model, source=module.deployment.source,
              quantization=module.deployment.options.get('quantization'))
    module.start(name=name, detach=True)
    record = find(name)
    job = job_label(record)
    if args.json:
        print_json({'name': record.name, 'url': record.url or module.url,
                    'model': record.model, 'engine': record.engine, 'pid': record.pid,
                    'job': job})
    else:
        print(f'{name} ready at {record.url or module.url} ({job})')
    return 0


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
