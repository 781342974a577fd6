"""Hooks: code that runs around every call of a module, without subclassing it.

The protocol is three methods; a hook overrides the ones it needs::

    class Timer(lazyllm.Hook):
        def pre_call(self, module, args, kwargs):
            self.t = time.perf_counter()
            return args, kwargs              # may return changed args/kwargs
        def post_call(self, module, output):
            print(module.name, time.perf_counter() - self.t)
            return output                    # may return a changed output
        def on_error(self, module, error):   # observes; the error is re-raised after
            log.warning('%s failed: %s', module.name, error)

    m.register_hook(Timer())

Hooks run in registration order (``post_call`` too). A hook instance may be shared by
several modules and called from several threads at once: keep per-call state in locals or
thread-locals, not on ``self``, when modules are called concurrently.
"""
from __future__ import annotations

from typing import Any

__all__ = ['Hook']


class Hook:
    """Base class of hooks; every method is a no-op that passes values through."""

    def pre_call(self, module: Any, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        return args, kwargs

    def post_call(self, module: Any, output: Any) -> Any:
        return output

    def on_error(self, module: Any, error: BaseException) -> None:
        return None


class HookRun:
    """The hooks of one call of ``module`` (sync, async or streamed alike), as a ``with``
    block around the work: ``pre`` changes the arguments, every hook's ``on_error`` sees an
    exception leaving the block (which is re-raised), ``post`` changes the output."""

    def __init__(self, module: Any):
        self.module, self.hooks = module, module._hooks

    def __enter__(self) -> 'HookRun':
        return self

    def __exit__(self, kind: Any, error: BaseException | None, tb: Any) -> None:
        if isinstance(error, Exception):
            for h in self.hooks:
                h.on_error(self.module, error)

    def pre(self, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        for h in self.hooks:
            args, kwargs = h.pre_call(self.module, args, kwargs)
        return args, kwargs

    def post(self, output: Any) -> Any:
        for h in self.hooks:
            output = h.post_call(self.module, output)
        return output
