"""The shape of the ``lazyllm`` command line: its commands, their table, the parser built
from it, and the exit codes.

Its own module so that the command modules (``_*_cmd.py``) and ``lazyllm.cli`` both import it,
instead of each command module importing the package that imports it. A package adds a
command through the entry-point group ``lazyllm.commands`` (a ``Command`` instance), the same
``register`` the built-ins go through.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from .._registry import Registry
from .._version import __version__
from ..errors import InputError
from ._tree import parsers

__all__ = ['Command', 'UsageError', 'commands', 'register', 'build_parser', 'OK', 'FAILED',
           'USAGE', 'INTERRUPTED']

OK, FAILED, USAGE, INTERRUPTED = 0, 1, 2, 130


class UsageError(InputError):
    """A command line that is wrong as written (exit 2, with the command's own usage); raised
    by a command's ``run`` for rules argparse cannot express, e.g. "a name or --all"."""


@dataclass(frozen=True)
class Command:
    """One subcommand: its name, a one-line help, a function that adds its arguments to its
    parser, and one that runs it (returning the exit code; None is 0)."""
    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int | None]


def _admit(name: str, command: Command) -> None:
    if not isinstance(command, Command):
        raise InputError(f'command {name!r} must be a lazyllm.cli.Command, not '
                         f'{type(command).__name__}')


commands: Registry[Command] = Registry('command', 'lazyllm.commands', admit=_admit)


def register(command: Command, *, replace: bool = False) -> Command:
    """Add ``command`` (``lazyllm --help`` lists commands in the order they register); a
    name already taken is an InputError unless ``replace=True``."""
    return commands.register(command, replace=replace)


class _Version(argparse.Action):
    """``--version``: the version on stdout; a clash with the PyPI LazyLLM distribution (the
    same ``lazyllm`` package folder) on stderr, unless the import already warned."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS,
                 **kwargs: Any):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help="print lazyllm's version and exit", **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any) -> None:
        print(f'lazyllm {__version__}')
        warning = _clash_report()
        if warning:
            print(f'Warning: {warning}', file=sys.stderr)
        parser.exit(OK)


def _clash_report() -> str | None:
    """``lazyllm._clash.report()``, unless ``import lazyllm`` has already warned with it."""
    from .. import _clash
    if _clash.warned:
        return None
    try:
        return _clash.report()
    except Exception as e:   # --version must still answer; say that the check failed
        return (f'could not check for files of the PyPI LazyLLM distribution in the lazyllm '
                f'package folder ({type(e).__name__}: {e}); reinstall lazyllm-model-layer if '
                'imports fail.')


def build_parser() -> argparse.ArgumentParser:
    """The parser of every registered command (plugins' included), in registration order."""
    parser = argparse.ArgumentParser(
        prog='lazyllm',
        description='lazyllm: deploy, inspect and call models (local, online, or at a URL).',
        epilog="Run 'lazyllm COMMAND --help' for the options of a command. Exit codes: 0 ok, "
               '1 failed, 2 bad usage.')
    parser.add_argument('--version', action=_Version)
    subs = parser.add_subparsers(dest='command', metavar='COMMAND')
    for cmd in commands.values():
        sub = subs.add_parser(cmd.name, help=cmd.help, description=cmd.help)
        cmd.add_arguments(sub)
        sub.set_defaults(_run=cmd.run)
    for _, each in parsers(parser):   # the deepest parser given is the one that explains
        each.set_defaults(_parser=each)
    return parser
