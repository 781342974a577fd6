"""``lazyllm config show``: the effective settings, where each comes from, secrets masked."""
from __future__ import annotations

import argparse
import json

from .._config import config
from ._command import Command, register


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest='action', metavar='ACTION', required=True)
    show = actions.add_parser('show', help='print every setting, its value and its source')
    show.add_argument('--json', action='store_true', help='print JSON instead of a table')
    path = actions.add_parser('path', help='print the path of the config file')
    path.add_argument('--json', action='store_true',
                      help='print {path, exists} as JSON')


def _run(args: argparse.Namespace) -> int:
    config.register_all()          # layers register their settings when imported
    if args.action == 'path':
        file = config.file_path()
        print(json.dumps({'path': str(file), 'exists': file.is_file()}) if args.json else file)
        return 0
    rows = config.show()
    if args.json:
        print(json.dumps([{'name': n, 'value': v, 'source': s} for n, v, s in rows], indent=2))
        return 0
    widths = [max(len(r[i]) for r in rows + [('NAME', 'VALUE', 'SOURCE')]) for i in range(3)]
    for row in [('NAME', 'VALUE', 'SOURCE')] + rows:
        print('  '.join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
    return 0


register(Command('config', 'show the effective lazyllm settings and where they come from',
                 _add_arguments, _run))
