"""Engines that serve models over OpenAI-compatible HTTP: the built-in servers
(``transformers`` for LLMs, ``embedding``, ``rerank``) and ``auto``, which picks one."""
from ._auto import AutoEngine, auto, pick_engine
from ._builtin import embedding, rerank, transformers
from ._engine import Engine, Option, engines, get_engine, register_engine

__all__ = ['Engine', 'Option', 'engines', 'get_engine', 'register_engine', 'auto',
           'AutoEngine', 'pick_engine', 'transformers', 'embedding', 'rerank']
