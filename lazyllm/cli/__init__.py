"""The ``lazyllm`` command line.

Subcommands are entries in ``COMMANDS`` (a name, a one-line help, a function that adds its
arguments, a function that runs it), registered the same way a plugin would add one, so each
later layer (deploy, ps, stop, logs, models, chat, finetune) is one module and one entry.
Exit codes: 0 success, 1 a lazyllm error (printed without a traceback), 2 bad usage.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Callable, Sequence

from .._version import __version__
from ..errors import LazyLLMError

__all__ = ['main', 'Command', 'COMMANDS', 'register']


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int | None]


COMMANDS: dict[str, Command] = {}


def register(command: Command) -> Command:
    COMMANDS[command.name] = command
    return command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='lazyllm',
        description='lazyllm: deploy, inspect and call models (local, online, or at a URL).',
        epilog="Run 'lazyllm COMMAND --help' for the options of a command.")
    parser.add_argument('--version', action='version', version=f'lazyllm {__version__}')
    subs = parser.add_subparsers(dest='command', metavar='COMMAND')
    for cmd in COMMANDS.values():
        sub = subs.add_parser(cmd.name, help=cmd.help, description=cmd.help)
        cmd.add_arguments(sub)
        sub.set_defaults(_run=cmd.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, '_run', None) is None:
        parser.print_help()
        return 0
    try:
        return int(args._run(args) or 0)
    except LazyLLMError as e:
        print(f'Error: {e}', file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


# register their commands, in the order `lazyllm --help` lists them
from . import _config_cmd, _models_cmd  # noqa: E402,F401,I001
from . import _deploy_cmd, _ps_cmd, _chat_cmd  # noqa: E402,F401
