"""``lazyllm models``: list the model catalog; ``lazyllm models pull NAME``: fetch a model.

``pull`` runs the same resolution as ``TrainableModule(NAME).start()`` (path, roots, caches,
then a download with fallback), so a model pulled here is what a later start() finds.
"""
from __future__ import annotations

import argparse

from . import Command, register


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--type', help='only models of this type (llm, embed, rerank, stt…)')
    actions = parser.add_subparsers(dest='action', metavar='ACTION')
    pull = actions.add_parser('pull', help='download a model (catalog name or repo id) and '
                              'print its folder')
    pull.add_argument('name', help="a catalog name (see 'lazyllm models') or a repo id")
    pull.add_argument('--source', choices=['huggingface', 'modelscope'],
                      help='hub to try first (default: LAZYLLM_MODEL_SOURCE)')
    pull.add_argument('--revision', help='branch, tag or commit (default: main / master)')


def _table(kind: str | None) -> int:
    from ..hub import ModelType, catalog
    want = ModelType.parse(kind).value if kind else None
    rows = [(e.name, e.type, e.params, str(e.context or ''), e.hf or '-', e.ms or '-')
            for e in catalog().values() if want in (None, e.type)]
    head = ('NAME', 'TYPE', 'PARAMS', 'CONTEXT', 'HUGGING FACE', 'MODELSCOPE')
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    for row in [head] + sorted(rows):
        print('  '.join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
    return 0


def _run(args: argparse.Namespace) -> int:
    if args.action != 'pull':
        return _table(args.type)
    from ..hub import resolve_model
    print(resolve_model(args.name, source=args.source, revision=args.revision))
    return 0


register(Command('models', 'list the model catalog, or pull a model by name', _add_arguments,
                 _run))
