"""The ``lazyllm`` command line.

Subcommands are entries in ``commands`` (``COMMANDS``; a name, a one-line help, a function that
adds its arguments, a function that runs it), registered the same way a plugin adds one (the
entry-point group ``lazyllm.commands``), so each layer (deploy, ps, stop, logs, models, chat)
is one module and one entry.

Exit codes are the same for every command (docs/cli.md): 0 success; 1 a well-formed command
that failed (a lazyllm error, printed as ``Error: …`` without a traceback); 2 bad usage, a
command line that is wrong before anything is looked at (an unknown flag, a missing or
malformed argument, flags that exclude each other), reported with the usage of the command
that was given, not the top-level one; 130 interrupted. ``main`` returns the code rather than
raising SystemExit, so that it can be called from Python too.
"""
from __future__ import annotations

import contextlib
import os
import sys
from typing import Sequence

from ..errors import LazyLLMError
from ._command import (
    FAILED,
    INTERRUPTED,
    OK,
    USAGE,
    Command,
    UsageError,
    _clash_report,  # noqa: F401  (--version's check, importable from here)
    build_parser,
    commands,
    register,
)
from ._tree import owner

__all__ = ['main', 'Command', 'COMMANDS', 'commands', 'register', 'build_parser', 'UsageError']

COMMANDS = commands      # the table of commands (lazyllm.cli._command), by its old name


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
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:   # reported by the command they were given to, with its own usage
            given = list(sys.argv[1:] if argv is None else argv)
            owner(parser, given, extra[0]).error(f'unrecognized arguments: {" ".join(extra)}')
    except SystemExit as e:     # argparse: --help, --version (0) or bad usage (2)
        return e.code if isinstance(e.code, int) else OK if e.code is None else USAGE
    if getattr(args, '_run', None) is None:
        parser.print_help()
        return OK
    try:
        return int(args._run(args) or OK)
    except UsageError as e:
        with contextlib.suppress(BrokenPipeError):
            args._parser.print_usage(sys.stderr)
            print(f'{args._parser.prog}: error: {e}', file=sys.stderr)
        return USAGE
    except LazyLLMError as e:
        with contextlib.suppress(BrokenPipeError):   # the error stands even if unread
            print(f'Error: {e}', file=sys.stderr)
        return FAILED
    except KeyboardInterrupt:
        return INTERRUPTED


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


# register the built-in commands, in the order `lazyllm --help` lists them
from . import _config_cmd, _models_cmd  # noqa: E402,F401,I001
from . import _deploy_cmd, _plan_cmd, _ps_cmd, _chat_cmd, _serve_cmd  # noqa: E402,F401
from . import _variants_cmd  # noqa: E402,F401
from . import _completion_cmd  # noqa: E402,F401
