"""``lazyllm acme-hello``: a command of the package on lazyllm's command line."""
import argparse

from lazyllm.cli import Command


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--name', default='world', help='who to greet')


def _run(args: argparse.Namespace) -> int:
    print(f'hello {args.name}, from acme')
    return 0


hello = Command('acme-hello', 'greet (a command of the acme-lazyllm package)',
                _add_arguments, _run)
