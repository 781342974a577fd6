"""An HTTP middleware for engines lazyllm does not write (vLLM's ``--middleware``).

It answers every response with the launch token lazyllm gave the engine process in
``LAZYLLM_ENGINE_TOKEN``, so lazyllm can tell its engine from another process on the same
port (see ``lazyllm/deploy/_identity.py``). Standalone on purpose: it runs inside the
engine's own interpreter, where lazyllm itself may not be installed.
"""
import os

_TOKEN = os.environ.get('LAZYLLM_ENGINE_TOKEN', '')
_HEADER = 'x-lazyllm-engine-token'


async def report_token(request, call_next):
    response = await call_next(request)
    if _TOKEN:
        response.headers[_HEADER] = _TOKEN
    return response
