"""ModuleProxy: a module that stands for another one it chose (OnlineModule, AutoModel).

Factories in lazyllm are real classes, not ``__new__`` tricks that return an instance of
another class: the factory builds the module it picked, keeps it in ``.module`` (so the
lifecycle reaches it as a submodule), and passes calls, streams and public attribute reads
to it. ``isinstance(m, OnlineModule)`` stays true, and ``m.module`` shows what was picked.
"""
from __future__ import annotations

from typing import Any, AsyncIterator, Iterator

from ._base import ModuleBase

__all__ = ['ModuleProxy']


class ModuleProxy(ModuleBase):
    """Subclasses set ``self.module`` in ``__init__`` and call :meth:`_adopt`."""

    module: ModuleBase

    def _adopt(self, module: ModuleBase) -> None:
        self.module = module
        self._stream = module._stream   # stream= given to the factory reaches the module

    def forward(self, *args: Any, **kw: Any) -> Any:
        return self.module.forward(*args, **kw)

    def stream_forward(self, *args: Any, **kw: Any) -> Iterator[Any]:
        return self.module.stream_forward(*args, **kw)

    async def acall(self, *args: Any, **kw: Any) -> Any:
        """The async twin of calling the module (this proxy's formatter applied)."""
        out = await self.module.acall(*args, **kw)
        return self._formatter(out) if self._formatter is not None else out

    __acall__ = acall

    def astream(self, *args: Any, **kw: Any) -> AsyncIterator[Any]:
        return self.module.astream(*args, **kw)

    def __getattr__(self, name: str) -> Any:
        """Public attributes of the chosen module (``share``, ``usage``, ``url``, ``model``…)."""
        if name.startswith('_') or name == 'module':
            raise AttributeError(name)
        return getattr(self.module, name)
