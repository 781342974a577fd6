"""The argparse tree of the command line, walked: every (sub)parser with its words.

``build_parser`` uses it to let the deepest parser given report a bad flag with its own
usage; ``lazyllm completion`` turns it into shell completion scripts, so that a new command
or flag is completed without anyone editing a script.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Iterator

__all__ = ['Node', 'parsers', 'nodes']


@dataclass
class Option:
    flags: list[str]               # '-n', '--lines'
    help: str = ''
    takes_value: bool = False
    choices: list[str] = field(default_factory=list)


@dataclass
class Node:
    """One parser: its command path (``('models', 'pull')``), the subcommands under it, its
    options, and the words its first positional accepts (its choices), if any."""
    path: tuple[str, ...]
    subcommands: dict[str, str]    # name -> help
    options: list[Option]
    words: list[str]


def _subparsers(parser: argparse.ArgumentParser) -> list[argparse._SubParsersAction]:
    return [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]


def parsers(parser: argparse.ArgumentParser,
            path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...],
                                                          argparse.ArgumentParser]]:
    """Every parser of the tree with its command path, the root first."""
    yield path, parser
    for action in _subparsers(parser):
        for name, sub in action.choices.items():
            yield from parsers(sub, path + (name,))


def _helps(action: argparse._SubParsersAction) -> dict[str, str]:
    return {choice.dest: choice.help or '' for choice in action._choices_actions}


def nodes(parser: argparse.ArgumentParser) -> list[Node]:
    out = []
    for path, each in parsers(parser):
        subcommands: dict[str, str] = {}
        for action in _subparsers(each):
            helps = _helps(action)
            subcommands.update({name: helps.get(name, '') for name in action.choices})
        options = [Option(list(a.option_strings), a.help or '', a.nargs != 0,
                          [str(c) for c in a.choices or ()])
                   for a in each._actions if a.option_strings and a.help != argparse.SUPPRESS]
        positionals = [a for a in each._actions
                       if not a.option_strings and not isinstance(a, argparse._SubParsersAction)]
        words = [str(c) for c in positionals[0].choices or ()] if positionals else []
        out.append(Node(path, subcommands, options, words))
    return out


def owner(root: argparse.ArgumentParser, argv: list[str], word: str) -> argparse.ArgumentParser:
    """The parser whose part of ``argv`` holds ``word`` (an argument no parser took):
    ``lazyllm --bogus ps`` is the top level's, ``lazyllm ps --bogus`` is ps's."""
    at = argv.index(word) if word in argv else len(argv)
    parser, pos = root, 0
    while True:
        subs = _subparsers(parser)
        found = next(((i, a.choices[w]) for i, w in enumerate(argv[pos:at], pos)
                      for a in subs if w in a.choices), None)
        if found is None:
            return parser
        pos, parser = found[0] + 1, found[1]
