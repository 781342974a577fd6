"""The ``lazyllm`` command line.

Subcommands are entries in ``COMMANDS`` (a name, a one-line help, a function that adds its
arguments, a function that runs it), registered the same way a plugin would add one, so each
later layer (deploy, ps, stop, logs, models, chat, finetune) is one module and one entry.
Exit codes: 0 success, 1 a lazyllm error (printed without a traceback), 2 bad usage.
"""
from __future__ import annotations

import argparse
import contextlib
import os
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
    """Run one command; its exit code. Output to a reader that went away (``lazyllm ps |
    head -1``) ends the command quietly with 0, see :func:`_reader_gone`."""
    try:
        try:
            return _main(argv)
        finally:   # inside the try: a closed pipe surfaces here, not at interpreter exit
            if sys.stdout is not None:
                sys.stdout.flush()
    except BrokenPipeError:
        return _reader_gone()


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, '_run', None) is None:
        parser.print_help()
        return 0
    try:
        return int(args._run(args) or 0)
    except LazyLLMError as e:
        with contextlib.suppress(BrokenPipeError):   # the error stands even if unread
            print(f'Error: {e}', file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _reader_gone() -> int:
    """The reader of stdout closed it (``| head``, ``| grep -m1``, a pager quit early).

    Exit 0, with no traceback: the reader got every line it asked for and nothing failed
    here. The SIGPIPE convention (141, what coreutils show) would make ``set -o pipefail``
    scripts, CI steps among them, fail on a benign ``lazyllm ps | head -1``; Python's own
    default (a traceback, exit 1 or 120) is noise. Stdout is pointed at /dev/null so that
    the interpreter's last flush at exit cannot raise again (the recipe of Python's docs,
    "Note on SIGPIPE").
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):   # stdout without a descriptor (embedded)
        pass
    return 0


# register their commands, in the order `lazyllm --help` lists them
from . import _config_cmd, _models_cmd  # noqa: E402,F401,I001
from . import _deploy_cmd, _ps_cmd, _chat_cmd  # noqa: E402,F401
