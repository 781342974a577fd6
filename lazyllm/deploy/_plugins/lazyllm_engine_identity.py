"""An ASGI middleware for engines lazyllm does not write (vLLM's ``--middleware``).

It answers every response with the launch token lazyllm gave the engine process in
``LAZYLLM_ENGINE_TOKEN``, so lazyllm can tell its engine from another process on the same
port (see ``lazyllm/deploy/_identity.py``). Standalone on purpose: it runs inside the
engine's own interpreter, where lazyllm itself may not be installed. Plain ASGI (a class:
vLLM adds it with ``app.add_middleware``), not an ``@app.middleware('http')`` function,
which would hide client disconnects from the engine and keep cancelled requests running.
"""
import os

_HEADER = b'x-lazyllm-engine-token'


class ReportToken:
    def __init__(self, app):
        self.app = app
        self.token = os.environ.get('LAZYLLM_ENGINE_TOKEN', '').encode('latin-1')

    async def __call__(self, scope, receive, send):
        if scope['type'] != 'http' or not self.token:
            await self.app(scope, receive, send)
            return

        async def send_with_token(message):
            if message['type'] == 'http.response.start':
                message = {**message, 'headers': [*message.get('headers', ()),
                                                  (_HEADER, self.token)]}
            await send(message)

        await self.app(scope, receive, send_with_token)
