"""Modules: callables with a lifecycle (ModuleBase), hooks, streaming, and flows; the chat,
online and automatic modules built on them."""
from __future__ import annotations

from .._lazy import lazy_exports
from ._action import ActionModule
from ._base import ModuleBase
from ._generation import BatchItem, ChatCapabilities
from ._hooks import Hook
from ._stream import StreamOptions, listen_stream

__all__ = ['ModuleBase', 'ActionModule', 'Hook', 'StreamOptions', 'listen_stream', 'Deployment',
           'TrainableModule', 'BatchItem', 'ChatCapabilities', 'AutoModel', 'connect',
           'Conversation', 'load_map', 'Variant']

# Loaded on first use: they pull in the serving and deploy layers. name -> (module, attribute)
_LAZY = {
    'Deployment': ('lazyllm.serve', 'Deployment'),
    'TrainableModule': ('._trainable', 'TrainableModule'),
    'AutoModel': ('._automodel', 'AutoModel'),
    'connect': ('._connect', 'connect'),
    'Conversation': ('._conversation', 'Conversation'),
    'load_map': ('._config_map', 'load_map'),
    'Variant': ('._variant', 'Variant'),
}


__getattr__ = lazy_exports(__name__, globals(), _LAZY)
