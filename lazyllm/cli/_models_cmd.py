"""``lazyllm models``: list the model catalog; ``lazyllm models pull NAME``: fetch a model;
``lazyllm models convert NAME --to gguf``: a Hugging Face folder as a GGUF file.

``pull`` runs the same resolution as ``TrainableModule(NAME).start()`` (path, roots, caches,
then a download with fallback), so a model pulled here is what a later start() finds. A pull
shows its progress on stderr (cli/_progress.py) and prints the folder, or ``--json``
``{name, path}``, on stdout.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from ._command import Command, register
from ._progress import Heartbeat, folder_bytes, human_bytes

TYPES = ('llm', 'vlm', 'embed', 'rerank', 'classify', 'stt', 'tts', 'sd')   # hub.ModelType
GGUF_TYPES = ('f32', 'f16', 'bf16', 'q8_0')                  # hub.GGUF_TYPES


def add_pull_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('name', help="a catalog name (see 'lazyllm models') or a repo id")
    parser.add_argument('--source', choices=['huggingface', 'modelscope'],
                        help='hub to try first (default: LAZYLLM_MODEL_SOURCE)')
    parser.add_argument('--revision', help='branch, tag or commit (default: main / master)')
    parser.add_argument('--quantization', metavar='Q',
                        help='for a repo of GGUF files, the one to download, e.g. Q8_0 '
                             '(default: the only one, else Q4_K_M, else the smallest)')
    parser.add_argument('--json', action='store_true', help='print {name, path} as JSON')


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--type', choices=TYPES, help='only models of this type')
    parser.add_argument('--json', action='store_true',
                        help='print the entries as JSON: name, type, params, context, format, '
                             'hf, ms')
    actions = parser.add_subparsers(dest='action', metavar='ACTION')
    add_pull_arguments(actions.add_parser('pull', help='download a model (catalog name or '
                                          'repo id) and print its folder'))
    convert = actions.add_parser('convert', help="a Hugging Face folder as a GGUF file "
                                 "(llama.cpp's converter), for the llamacpp engine")
    convert.add_argument('name', help='a model folder (or a name lazyllm resolves to one), or a '
                         'peft LoRA adapter folder')
    convert.add_argument('--base', help="a LoRA adapter's base model (default: the one its "
                         'adapter_config.json names)')
    convert.add_argument('--to', choices=['gguf'], default='gguf', help='the format (gguf)')
    convert.add_argument('--quantization', choices=GGUF_TYPES, default='q8_0',
                         help='what the converter writes (default q8_0)')
    convert.add_argument('--out', help='the file to write (default: <model cache>/gguf/'
                         '<folder>-<Q>.gguf)')
    convert.add_argument('--json', action='store_true', help='print {name, path} as JSON')


def _table(kind: str | None, as_json: bool) -> int:
    from ..hub import ModelType, catalog
    from ._ps_cmd import print_json, print_table
    want = ModelType.parse(kind).value if kind else None
    entries = sorted((e for e in catalog().values() if want in (None, e.type)),
                     key=lambda e: e.name)
    if as_json:
        print_json([{'name': e.name, 'type': e.type, 'params': e.params,
                     'context': e.context or None, 'format': e.format, 'hf': e.hf or None,
                     'ms': e.ms or None} for e in entries])
        return 0
    print_table(('NAME', 'TYPE', 'PARAMS', 'CONTEXT', 'FORMAT', 'HUGGING FACE', 'MODELSCOPE'),
                [(e.name, e.type, e.params, str(e.context or ''), e.format, e.hf or '-',
                  e.ms or '-') for e in entries])
    return 0


def fetch(name: str, source: str | None = None, revision: str | None = None,
          quantization: str | None = None) -> Path:
    """Resolve ``name`` (maybe download or build it) with progress on stderr: the folder.
    ``pull`` prints it; ``deploy`` calls this before starting, so that a download inside a
    deploy shows its bytes arriving, not a silent wait (start() then finds it cached)."""
    from ..hub import cache_dir
    from ..hub import pull as hub_pull
    arriving = cache_dir() / '.partial'    # where a download's files grow (hub/_download.py)

    def received() -> str:
        size = folder_bytes(arriving)
        return f'{human_bytes(size)} received' if size else ''
    # one progress display: the hub client's per-file bars would draw over the spinner on a
    # terminal and fill a log with \r redraws without one
    os.environ.setdefault('HF_HUB_DISABLE_PROGRESS_BARS', '1')
    with Heartbeat(f'pulling {name}', received):
        return hub_pull(name, source=source, revision=revision, quantization=quantization)


def pull(args: argparse.Namespace) -> int:
    """``models pull`` and ``pull``: resolve (maybe download) with progress on stderr."""
    return _print_path(args, fetch(args.name, source=args.source, revision=args.revision,
                                   quantization=args.quantization))


def convert(args: argparse.Namespace) -> int:
    """``models convert``: a heartbeat on stderr while llama.cpp's converter runs."""
    from ..hub import convert_to_gguf
    with Heartbeat(f'converting {args.name}'):
        path = convert_to_gguf(args.name, quantization=args.quantization, out=args.out,
                               base=args.base)
    return _print_path(args, path)


def _print_path(args: argparse.Namespace, path: Path) -> int:
    """The result of ``pull`` and ``convert``: the path, or ``{name, path}`` with --json."""
    from ._ps_cmd import print_json
    if args.json:
        print_json({'name': args.name, 'path': str(path)})
    else:
        print(path)
    return 0


def _run(args: argparse.Namespace) -> int:
    if args.action == 'pull':
        return pull(args)
    if args.action == 'convert':
        return convert(args)
    return _table(args.type, args.json)


register(Command('models', 'list the model catalog, or pull a model by name', _add_arguments,
                 _run))
