"""The gateway's own refusals, in OpenAI's error shape.

``{"error": {"message", "type", "param", "code"}}`` with ``code`` a string: the official SDKs
and LangChain raise their usual exceptions from it (``NotFoundError``, ``BadRequestError``…).
Every route of the gateway -- the models, the management API -- raises ``Refused`` for a
request it answers itself; ``error_response`` is the one place the shape is written.
"""
from __future__ import annotations

from fastapi.responses import JSONResponse

__all__ = ['Refused', 'error_response', 'unauthorized']

_TYPES = {401: 'authentication_error', 403: 'permission_error', 502: 'api_error',
          503: 'api_error', 504: 'api_error'}


class Refused(Exception):
    """A request the gateway answers itself: ``status``, OpenAI's ``code``, the ``param``
    at fault."""

    def __init__(self, status: int, message: str, code: str, param: str | None = None):
        super().__init__(message)
        self.status, self.code, self.param = status, code, param


def error_response(status: int, message: str, code: str | None,
                   param: str | None = None) -> JSONResponse:
    return JSONResponse({'error': {'message': message,
                                   'type': _TYPES.get(status, 'invalid_request_error'),
                                   'param': param, 'code': code}}, status_code=status)


def unauthorized() -> JSONResponse:
    """The 401 of a request without one of the gateway's API keys."""
    return error_response(401, 'missing or wrong API key: send Authorization: Bearer <key> '
                          'with a key this gateway was given.', 'invalid_api_key')
