"""``lazyllm plan MODEL``: will it fit, before anything is downloaded or started.

Prints the planner's table (``lazyllm.plan``): the weights, KV cache, loading peak and the
engine's own memory, the memory free where it would run, the verdict and, when it does not
fit, the fixes in order. Exit code 1 when it does not fit, so a script can ask first.
"""
from __future__ import annotations

import argparse

from ._command import FAILED, OK, Command, register
from ._deploy_cmd import ENGINES, parse_option
from ._ps_cmd import print_json, set_example


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f'expected a whole number >= 1, got {text!r}')
    return value


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('model', metavar='MODEL',
                        help='a folder, a GGUF file, a catalog name or a hub repo id '
                             '(sized from the hub without downloading the weights)')
    parser.add_argument('--engine', choices=ENGINES, default='auto',
                        help='the engine that would serve it (default: the one deploy picks)')
    parser.add_argument('--dtype', help='weights precision: float32, bfloat16, float16')
    parser.add_argument('--max-model-len', type=_positive, metavar='N',
                        help="tokens of context (default: the model's own)")
    parser.add_argument('--concurrency', type=_positive, default=1, metavar='N',
                        help='sequences of that length held at once (default 1)')
    parser.add_argument('--gpus', type=_positive, metavar='N',
                        help='plan tensor parallelism over N GPUs')
    parser.add_argument('--quantization', help='which GGUF of a repo or folder, e.g. Q4_K_M')
    parser.add_argument('--option', '-o', dest='options', action='append', default=[],
                        type=parse_option, metavar='KEY=VALUE',
                        help='an engine option, as for deploy (repeat)')
    parser.add_argument('--launcher', choices=['local', 'slurm', 'ray'], default=None,
                        help='where it would run (a cluster node is checked there)')
    parser.add_argument('--source', choices=['huggingface', 'modelscope'],
                        help='the hub to read a remote model from first')
    parser.add_argument('--json', action='store_true', help='print the plan as JSON')
    set_example(parser, '  lazyllm plan smollm2\n'
                        '  lazyllm plan Qwen/Qwen2.5-7B-Instruct --max-model-len 8192 '
                        '--dtype bfloat16\n'
                        '  lazyllm plan /models/SmolLM2 --engine vllm --concurrency 8 --json\n')


def _run(args: argparse.Namespace) -> int:
    from ..serve import plan
    result = plan(args.model, engine=None if args.engine == 'auto' else args.engine,
                  dtype=args.dtype, max_model_len=args.max_model_len,
                  concurrency=args.concurrency, gpus=args.gpus, options=dict(args.options),
                  source=args.source, quantization=args.quantization, launcher=args.launcher)
    if args.json:
        print_json(result.as_dict())
    else:
        print(result.table())
    return FAILED if result.fits is False else OK


register(Command('plan', 'show whether a model fits in memory, and what would make it',
                 _arguments, _run))
