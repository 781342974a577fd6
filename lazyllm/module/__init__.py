"""Modules: callables with a lifecycle (ModuleBase), hooks, streaming, and flows."""
from ._base import ModuleBase
from ._hooks import Hook
from ._stream import StreamOptions, listen_stream

__all__ = ['ModuleBase', 'Hook', 'StreamOptions', 'listen_stream']
