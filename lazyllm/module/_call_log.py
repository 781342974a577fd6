"""``return_trace=True``: LazyLLM's flag, and what it does here.

In LazyLLM, ``return_trace=True`` records a module's output in the trace that its web UI
shows. lazyllm has no web UI and no trace store, so the flag keeps its purpose, seeing what a
module answered, the plain way: every call of the module logs its input and its output (each
cut to 200 characters) at INFO level on the ``lazyllm`` logger, through a :class:`CallLog`
hook. ``return_trace=False`` (the default) adds nothing.
"""
from __future__ import annotations

from typing import Any

from .._log import get_logger
from ..errors import InputError
from ._hooks import Hook

__all__ = ['CallLog', 'apply_return_trace']

_CUT = 200


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _CUT else text[:_CUT - 3] + '...'


class CallLog(Hook):
    """Logs ``<module name> <- input`` before a call and ``<module name> -> output`` after."""

    def pre_call(self, module: Any, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        shown = args[0] if len(args) == 1 and not kwargs else (args, kwargs)
        get_logger().info('trace %s <- %s', module.name, _short(shown))
        return args, kwargs

    def post_call(self, module: Any, output: Any) -> Any:
        get_logger().info('trace %s -> %s', module.name, _short(output))
        return output

    def on_error(self, module: Any, error: BaseException) -> None:
        get_logger().info('trace %s !! %s: %s', module.name, type(error).__name__, error)


def apply_return_trace(module: Any, flag: Any) -> Any:
    """Register a CallLog on ``module`` when ``flag`` is True; refuse anything but a bool."""
    if not isinstance(flag, bool):
        raise InputError(f'return_trace must be True or False, not {flag!r}: True logs each '
                         f'call\'s input and output at INFO level on the "lazyllm" logger')
    if flag and not any(isinstance(h, CallLog) for h in module._hooks):
        module.register_hook(CallLog())
    return module
