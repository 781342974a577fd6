"""Modules: callables with a lifecycle (ModuleBase), hooks, streaming, and flows."""
from ._action import ActionModule
from ._base import ModuleBase
from ._generation import BatchItem, ChatCapabilities
from ._hooks import Hook
from ._stream import StreamOptions, listen_stream

__all__ = ['ModuleBase', 'ActionModule', 'Hook', 'StreamOptions', 'listen_stream', 'Deployment',
           'TrainableModule', 'BatchItem', 'ChatCapabilities']


def __getattr__(name: str) -> object:
    """Deployment and TrainableModule load on first use (they pull in the deploy layer)."""
    if name == 'Deployment':
        from ._deployment import Deployment
        return Deployment
    if name == 'TrainableModule':
        from ._trainable import TrainableModule
        return TrainableModule
    raise AttributeError(f"module 'lazyllm.module' has no attribute {name!r}")
