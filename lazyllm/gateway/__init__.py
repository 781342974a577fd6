"""``lazyllm serve``: one OpenAI endpoint for every deployment, routed by model name.

    lazyllm serve                          # http://127.0.0.1:8000/v1/ — every running deployment
    lazyllm serve --host 0.0.0.0 --api-key-file keys.txt

An OpenAI client (the ``openai`` SDK, LangChain, an IDE plugin) is given one base URL and
one key, and names a deployment as its ``model``. The deployments are the registry's
(``lazyllm ps``): started by any process, on this machine, Slurm or Ray; a model name may
also be a replicated deployment or a published share variant. ``_targets`` maps a name to
its engines, ``_balance`` picks a replica, ``_upstream`` calls it, ``_forward`` answers the
model routes with them, ``_keys`` says who may call, ``_app`` assembles the HTTP app,
``_manage`` the management API (``/v1/deployments``: the deploy, ps, stop and logs commands
over HTTP), ``_metrics`` ``/metrics``, ``_page`` the chat page; ``serve`` runs it. Imported
only by ``lazyllm serve`` (FastAPI, uvicorn, httptools and prometheus-client are in the
``local`` extra).
"""
from __future__ import annotations

import socket
import sys
from typing import Any

from ._app import MAX_BODY, create_app
from ._keys import ADMIN_KEYS_ENV, KEYS_ENV, authorized, check_exposure, load_admin_keys, load_keys
from ._targets import ROUTES, Targets

GRACE = 30      # seconds a stop waits for calls in flight before it cuts them

__all__ = ['serve', 'create_app', 'Targets', 'ROUTES', 'load_keys', 'load_admin_keys',
           'authorized', 'check_exposure', 'KEYS_ENV', 'ADMIN_KEYS_ENV', 'MAX_BODY']


def serve(host: str = '127.0.0.1', port: int = 8000, *, keys: tuple[str, ...] = (),
          registry: Any = None, max_body: int = MAX_BODY, announce: Any = None,
          admin_keys: tuple[str, ...] = ()) -> None:
    """Run the gateway until interrupted. ``port`` 0 binds a free port; ``announce`` is
    called with the base URL once the socket listens (default: a line on stderr);
    ``admin_keys``: the keys the management API (``/v1/deployments``) asks for."""
    import uvicorn

    from ..registry import Registry
    check_exposure(host, keys)
    family = socket.AF_INET6 if ':' in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    bound = sock.getsockname()[1]
    app = create_app(Targets(registry or Registry()), keys=keys, max_body=max_body,
                     admin_keys=admin_keys)
    shown = f'[{host}]' if ':' in host else host
    url = f'http://{shown}:{bound}/v1/'
    (announce or (lambda u: print(f'lazyllm serve: the OpenAI API of every deployment at {u}'
                                  + (' (API keys required)' if keys else ''),
                                  file=sys.stderr, flush=True)))(url)
    # proxy_headers off: the gateway never reads the client's address, and every call
    # would pay for the X-Forwarded-For middleware
    server = uvicorn.Server(uvicorn.Config(app, log_level='warning', access_log=False,
                                           timeout_keep_alive=30, proxy_headers=False,
                                           timeout_graceful_shutdown=GRACE))
    server.run(sockets=[sock])
