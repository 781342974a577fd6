"""Names a package exports but imports only when first used, so that ``import lazyllm``
stays fast (no httpx, torch or the serving layer until a module that needs them is used)."""
from __future__ import annotations

import importlib
from typing import Any, Callable, Mapping

__all__ = ['lazy_exports']


def lazy_exports(package: str, namespace: dict[str, Any],
                 table: Mapping[str, tuple[str, str | None]]) -> Callable[[str], Any]:
    """The module ``__getattr__`` of ``package``: ``name`` -> (module, attribute or None for
    the module itself) imported on first access, then kept in ``namespace`` (the package's
    globals), so the next access is a plain attribute."""
    def __getattr__(name: str) -> Any:
        if name not in table:
            raise AttributeError(f'module {package!r} has no attribute {name!r}')
        module_name, attribute = table[name]
        module = importlib.import_module(module_name, package)
        value = getattr(module, attribute) if attribute else module
        namespace[name] = value
        return value
    return __getattr__
