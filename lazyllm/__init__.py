"""lazyllm: a lazy, composable model layer for LLM applications.

One object turns a model into something you call like a function, and flows compose those
callables. Heavy libraries (httpx, torch, transformers, vllm…) are imported only when the
part that needs them is used: ``import lazyllm`` stays fast.
"""
from __future__ import annotations

from . import errors, formatter, prompt
from ._config import config
from ._lazy import lazy_exports
from ._version import __version__
from .errors import LazyLLMError
from .module import ActionModule, Hook, ModuleBase, listen_stream
from .module.flows import (
    barrier,
    bind,
    diverter,
    graph,
    ifs,
    loop,
    package,
    parallel,
    pipeline,
    placeholders,
    save_pipeline_result,
    switch,
    warp,
)
from .prompt import AlpacaPrompter, ChatPrompter, EmptyPrompter, Prompter

_0, _1, _2, _3, _4, _5, _6, _7, _8, _9 = placeholders  # bind's positional placeholders

__all__ = [
    '__version__', 'config', 'errors', 'LazyLLMError',
    'ModuleBase', 'ActionModule', 'Hook', 'listen_stream', 'TrainableModule', 'deploy',
    'launchers', 'hub',
    'pipeline', 'parallel', 'warp', 'switch', 'ifs', 'loop', 'bind', 'package', 'diverter',
    'graph', 'barrier', 'save_pipeline_result',
    'Prompter', 'ChatPrompter', 'AlpacaPrompter', 'EmptyPrompter', 'prompt', 'formatter',
    'client',
    'OnlineChatModule', 'OnlineEmbeddingModule', 'OnlineMultiModalModule', 'OnlineModule',
    'online', 'AutoModel', 'finetune', 'connect', 'deployments', 'Conversation', 'unload',
    'switch_device', 'plan',
]

# Loaded on first attribute access, to keep `import lazyllm` fast: name -> (module, attribute)
_LAZY = {
    'client': ('lazyllm.client', None),
    'deploy': ('lazyllm.deploy', None),
    'finetune': ('lazyllm.finetune', None),
    'hub': ('lazyllm.hub', None),
    'launchers': ('lazyllm.launch', 'launchers'),
    'TrainableModule': ('lazyllm.module', 'TrainableModule'),
    'online': ('lazyllm.module.online', None),
    'OnlineChatModule': ('lazyllm.module.online', 'OnlineChatModule'),
    'OnlineEmbeddingModule': ('lazyllm.module.online', 'OnlineEmbeddingModule'),
    'OnlineMultiModalModule': ('lazyllm.module.online', 'OnlineMultiModalModule'),
    'OnlineModule': ('lazyllm.module.online', 'OnlineModule'),
    'AutoModel': ('lazyllm.module', 'AutoModel'),
    'connect': ('lazyllm.module', 'connect'),
    'deployments': ('lazyllm.serve', 'deployments'),
    'Conversation': ('lazyllm.module', 'Conversation'),
    'unload': ('lazyllm.serve', 'unload'),
    'switch_device': ('lazyllm.serve', 'switch_device'),
    'plan': ('lazyllm.serve', 'plan'),
}


__getattr__ = lazy_exports('lazyllm', globals(), _LAZY)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


# PyPI's LazyLLM also installs `lazyllm`: warn once, with the fix, when it is beside us.
from ._clash import warn_on_import as _warn_on_import  # noqa: E402

_warn_on_import()
