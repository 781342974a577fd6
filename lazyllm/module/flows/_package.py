"""``package`` and its helpers for flow steps (defined in ``lazyllm/_package.py``, below
both flows and formatters)."""
from ..._package import as_args, call_with, pack, package

__all__ = ['package', 'call_with', 'as_args', 'pack']
