"""``lazyllm variants``: the published variants (``share(...).publish(name)``);
``lazyllm variants remove NAME``: unpublish one.

A variant is a model name the gateway (``lazyllm serve``) answers as a share of a
deployment: its prompt, history, sampling, adapter and formatter, stored in the registry.
The table shows what each one sets; ``--json`` prints the stored data whole.
"""
from __future__ import annotations

import argparse
import json

from ._command import Command, register

_SHOWN = 48     # characters of a prompt shown in the table


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--json', action='store_true',
                        help='print the variants as JSON: name, base, created, spec')
    actions = parser.add_subparsers(dest='action', metavar='ACTION')
    remove = actions.add_parser('remove', help='unpublish variants by name')
    remove.add_argument('names', nargs='+', metavar='NAME', help='a published variant')


def _summary(spec: dict) -> tuple[str, str, str]:
    """(the prompt's instruction, the sampling defaults, the formatter) for the table."""
    instruction = (spec.get('prompt') or {}).get('instruction') or ''
    text = instruction if isinstance(instruction, str) else json.dumps(instruction)
    text = text if len(text) <= _SHOWN else text[:_SHOWN - 1] + '…'
    sampling = ' '.join(f'{k}={v}' for k, v in sorted((spec.get('sampling') or {}).items()))
    shape = spec.get('format')
    formatter = f"{shape['kind']}({shape['expr'] or ''})" if shape else '-'
    return text or '-', sampling or '-', formatter


def _remove(names: list[str]) -> int:
    from ..errors import InputError
    from ..registry import Registry
    registry = Registry()
    missing = [n for n in names if not registry.unpublish(n)]
    if missing:
        raise InputError(f'no published variant {", ".join(map(repr, missing))}: '
                         '`lazyllm variants` lists them.')
    return 0


def _run(args: argparse.Namespace) -> int:
    from ..registry import Registry
    from ._ps_cmd import print_json, print_table
    if args.action == 'remove':
        return _remove(args.names)
    variants = Registry().variants()
    if args.json:
        print_json([{'name': v.name, 'base': v.base, 'created': v.created, 'spec': v.spec}
                    for v in variants])
        return 0
    print_table(('NAME', 'DEPLOYMENT', 'PROMPT', 'SAMPLING', 'FORMAT'),
                [(v.name, v.base, *_summary(v.spec)) for v in variants])
    return 0


register(Command('variants', 'list the published share variants, or remove one',
                 _add_arguments, _run))
