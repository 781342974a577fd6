"""Engines that serve models over OpenAI-compatible HTTP: the built-in servers
(``transformers`` for LLMs, ``embedding``, ``rerank``, ``classify``, ``whisper``
for speech-to-text, ``vlm`` for image-to-text), ``vllm``, ``llamacpp`` for GGUF files, and
``auto``, which picks one.
``engines`` is the table of them; a package adds one through the entry-point group
``lazyllm.engines`` (docs/plugins.md)."""
from ._auto import AutoEngine, auto, pick_engine
from ._classify import classify
from ._embed import embedding, rerank
from ._engine import Engine, Option, engines, get_engine, register_engine
from ._footprint import Footprint
from ._identity import DRAIN_ENV, TOKEN_ENV, is_ours, new_token
from ._llamacpp import LlamaCppEngine, llamacpp
from ._llm import TransformersEngine, transformers
from ._stt import WhisperEngine, whisper
from ._vllm import VllmEngine, vllm
from ._vlm import vlm

__all__ = ['Engine', 'Option', 'Footprint', 'engines', 'get_engine', 'register_engine', 'auto',
           'AutoEngine', 'pick_engine', 'transformers', 'TransformersEngine', 'embedding',
           'rerank', 'classify', 'vllm', 'VllmEngine', 'llamacpp', 'LlamaCppEngine', 'whisper',
           'WhisperEngine', 'vlm', 'DRAIN_ENV', 'TOKEN_ENV', 'is_ours', 'new_token']
