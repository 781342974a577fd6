"""``lazyllm chat NAME``: an interactive, streaming chat with a deployed LLM.

One user line at a time from stdin (a ``> `` prompt only on a terminal, so it works piped),
the answer streamed to stdout, the history kept. ``/exit``, ``/quit`` or end of input ends;
``/clear`` forgets the history.
"""
from __future__ import annotations

import argparse
import json
import sys

from .._names import article
from ..errors import DeployError, InputError
from ._command import Command, register
from ._ps_cmd import find, set_example

CHAT_TYPES = ('llm', 'vlm')


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    set_example(parser, '  lazyllm chat smol --system "You answer in one sentence."\n'
                        '  echo "What is the capital of France?" | lazyllm chat smol')
    parser.add_argument('name', metavar='NAME', help='an LLM deployment (see `lazyllm ps`)')
    parser.add_argument('--system', metavar='TEXT', help='a system prompt')
    parser.add_argument('--temperature', type=float, metavar='T', help='sampling temperature')
    parser.add_argument('--max-tokens', type=int, metavar='N',
                        help='the most tokens of one answer')
    parser.add_argument('--json', action='store_true',
                        help='print one JSON line {"prompt", "answer"} per answer, once it is '
                             'complete (not streamed)')


def _lines(interactive: bool):
    while True:
        if interactive:
            try:
                line = input('> ')
            except EOFError:
                print()
                return
        else:
            line = sys.stdin.readline()
            if not line:
                return
        yield line.strip()


def _run(args: argparse.Namespace) -> int:
    import lazyllm
    record = find(args.name)
    if record.status != 'running':
        raise DeployError(f'{record.name} is {record.status}: deploy it again with `lazyllm '
                          f'deploy {record.model} --name {record.name}`.')
    model = lazyllm.connect(record.name)
    kind = str(getattr(model.type, 'value', model.type) or 'llm')
    if kind not in CHAT_TYPES:
        raise InputError(f'{record.name} is {article(kind)} {kind} deployment: chat needs an '
                         f'llm or a vlm deployment (embed and rerank deployments cannot chat); '
                         'see the TYPE column of `lazyllm ps`.')
    sampling = {k: v for k, v in (('temperature', args.temperature),
                                  ('max_tokens', args.max_tokens)) if v is not None}
    system = [{'role': 'system', 'content': args.system}] if args.system else []
    history: list = []
    interactive = sys.stdin.isatty()
    for line in _lines(interactive):
        if line in ('/exit', '/quit'):
            break
        if line == '/clear':
            history.clear()
            if interactive:
                print('(history cleared)')
            continue
        if not line:
            continue
        parts = []
        for chunk in model.stream(line, history=system + history, **sampling):
            parts.append(chunk)
            if not args.json:
                sys.stdout.write(chunk)
                sys.stdout.flush()
        answer = ''.join(parts)
        print(json.dumps({'prompt': line, 'answer': answer}, ensure_ascii=False)
              if args.json else '', flush=True)
        history.append([line, answer])
    return 0


register(Command('chat', 'chat with a deployed LLM in the terminal (streaming)',
                 _add_arguments, _run))
