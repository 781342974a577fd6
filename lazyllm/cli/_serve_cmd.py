"""``lazyllm serve``: the OpenAI API of every deployment at one address (lazyllm.gateway).

Follows ``vllm serve``: ``--host`` (default 127.0.0.1: the gateway is not on the network
unless asked), ``--port`` (default 8000; 0 picks a free one), ``--api-key-file``;
``--admin-key-file`` adds the keys the management API (``/v1/deployments``) asks for. A host
other than loopback without keys is refused (exit 2). It runs until Ctrl-C.
"""
from __future__ import annotations

import argparse

from ..errors import InputError
from ._command import OK, Command, UsageError, register
from ._ps_cmd import set_example


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--host', default='127.0.0.1',
                        help='address to bind (default 127.0.0.1; another needs API keys)')
    parser.add_argument('--port', type=int, default=8000, help='port (default 8000; 0: a free one)')
    parser.add_argument('--api-key-file', metavar='FILE',
                        help='API keys callers must send, one per line (also '
                             'LAZYLLM_GATEWAY_API_KEYS=k1,k2)')
    parser.add_argument('--admin-key-file', metavar='FILE',
                        help='keys the management API (/v1/deployments: launch, stop, logs) '
                             'asks for instead of the API keys, one per line (also '
                             'LAZYLLM_GATEWAY_ADMIN_KEYS=k1,k2)')
    parser.add_argument('--max-body-mb', type=float, default=4.0, metavar='MB',
                        help='largest JSON request body (default 4; audio uploads: 25)')
    set_example(parser, '  lazyllm serve\n'
                        '  lazyllm serve --host 0.0.0.0 --port 8080 --api-key-file keys.txt\n'
                        '  curl localhost:8000/v1/models\n')


def _run(args: argparse.Namespace) -> int:
    from ..gateway import check_exposure, load_admin_keys, load_keys, serve
    if not 0 <= args.port < 65536:
        raise UsageError(f'--port must be between 0 and 65535, got {args.port}.')
    if args.max_body_mb <= 0:
        raise UsageError(f'--max-body-mb must be > 0, got {args.max_body_mb}.')
    keys = load_keys(args.api_key_file)
    admin_keys = load_admin_keys(args.admin_key_file)
    try:
        check_exposure(args.host, keys)
    except InputError as e:
        raise UsageError(str(e)) from None
    try:
        serve(args.host, args.port, keys=keys, max_body=int(args.max_body_mb * 2**20),
              admin_keys=admin_keys)
    except OSError as e:
        raise InputError(f'cannot listen on {args.host}:{args.port}: {e.strerror or e}. Pick '
                         'another --port (0: a free one).') from None
    except KeyboardInterrupt:
        pass
    return OK


register(Command('serve', 'serve every deployment behind one OpenAI endpoint', _arguments,
                 _run))
