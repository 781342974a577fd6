"""Entry point of a built-in engine process. Fails with one readable line (which the
launcher's DeployError quotes) when a dependency is missing or the model cannot load."""
from __future__ import annotations

import argparse
import importlib
import json
import logging
import socket
import sys

from ...launch import ENDPOINT_PREFIX
from . import KINDS
from ._placement import PreflightError

MISSING = ("missing Python package {name!r} needed by the lazyllm {kind} engine: install it "
           "in this interpreter ({python}) with: pip install 'lazyllm-model-layer[local]'")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='python -m lazyllm.deploy.servers')
    parser.add_argument('kind', choices=sorted(KINDS))
    parser.add_argument('--model', required=True, help='model folder')
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--served-model-name', default=None)
    parser.add_argument('--alias', action='append', default=[],
                        help='another name requests may give as "model" (repeat)')
    known, rest = parser.parse_known_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(name)s %(levelname)s: '
                        '%(message)s', stream=sys.stderr)
    try:                   # first, so that the port is ours (or its conflict said) at once
        sock = listen(known.host, known.port)
    except OSError as e:
        print(f'lazyllm engine error: cannot listen on {known.host}:{known.port}: {e}',
              file=sys.stderr, flush=True)
        return 6
    try:
        engine = importlib.import_module(KINDS[known.kind])
        from ._app import serve
    except ModuleNotFoundError as e:
        print('lazyllm engine error: ' + MISSING.format(name=e.name, kind=known.kind,
                                                         python=sys.executable),
              file=sys.stderr, flush=True)
        return 3
    sub = argparse.ArgumentParser(prog=f'python -m lazyllm.deploy.servers {known.kind}')
    engine.add_arguments(sub)
    args = sub.parse_args(rest, namespace=known)
    args.served_model_name = args.served_model_name or args.model.rstrip('/').rsplit('/', 1)[-1]
    try:
        app = engine.build_app(args)
    except ModuleNotFoundError as e:
        print('lazyllm engine error: ' + MISSING.format(name=e.name, kind=known.kind,
                                                         python=sys.executable),
              file=sys.stderr, flush=True)
        return 3
    except PreflightError as e:   # options this machine cannot run: checked before loading
        print(f'lazyllm engine error: {e}', file=sys.stderr, flush=True)
        return 5
    except Exception as e:  # the model did not load: say why in one line, then the trace
        logging.getLogger('lazyllm.engine').exception('cannot load %s', args.model)
        print(f'lazyllm engine error: cannot load the model at {args.model}: {cause(e)}',
              file=sys.stderr, flush=True)
        return 4
    serve(app, sock)
    return 0


def cause(error: BaseException) -> str:
    """``error`` as one line that names the root of its chain first: libraries re-raise
    what went wrong as their own error (transformers turns a JSONDecodeError of config.json
    into "OSError: ... is not a valid JSON file"), and the root says what to fix, e.g.
    ``ValueError: <root> (raised as OSError: <outer>)``."""
    root, seen = error, {id(error)}
    while True:
        inner = root.__cause__ or (None if root.__suppress_context__ else root.__context__)
        if inner is None or id(inner) in seen:
            break
        root = inner
        seen.add(id(root))
    text = _one_line(root)
    return text if root is error else f'{text} (raised as {_one_line(error)})'


def _one_line(error: BaseException) -> str:
    return ' '.join(f'{type(error).__name__}: {error}'.split())


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``. Port 0 binds a free port, announced on stdout as
    the launcher's endpoint line (launch/_node.py) so that the launcher learns it; the
    socket listens before the model loads (early connections wait in its backlog)."""
    family = socket.AF_INET6 if ':' in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    if port == 0:
        bound = sock.getsockname()[1]
        print(ENDPOINT_PREFIX + json.dumps({'host': host, 'port': bound}), flush=True)
    return sock


if __name__ == '__main__':
    sys.exit(main())
