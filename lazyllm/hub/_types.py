"""Model types, and reading a model's type from its folder.

The folder says what a model is better than its name does: ``modules.json`` marks a
sentence-transformers embedding model, a sequence-classification head with one label a
cross-encoder reranker (with several labels a text classifier), ``*ForCausalLM`` an LLM, and
so on. Name rules are only a fallback for folders that say nothing (and for URLs, where there
is no folder).
"""
from __future__ import annotations

import enum
import json
import re
from pathlib import Path
from typing import Any, Iterable

from .._names import article
from ..errors import InputError, LazyLLMError
from ._gguf import holds_gguf, pick_gguf, read_header

__all__ = ['ModelType', 'ALIASES', 'infer_type', 'type_from_name', 'folder_context_length']

# The spellings users bring from other libraries, for the types they mean.
ALIASES = {'chat': 'llm', 'embedding': 'embed', 'reranker': 'rerank', 'sd': 'text2image',
           'asr': 'stt', 'image': 'text2image', 'crossmodal_embed': 'cross_modal_embed'}


class ModelType(str, enum.Enum):
    """Every kind of model lazyllm serves or calls, local or online: the one vocabulary of
    hub, deploy, module and online. ``SD`` (LazyLLM's name for a local text-to-image model)
    is the same type as ``TEXT2IMAGE``."""
    LLM = 'llm'
    VLM = 'vlm'
    EMBED = 'embed'
    CROSS_MODAL_EMBED = 'cross_modal_embed'
    RERANK = 'rerank'
    CLASSIFY = 'classify'
    STT = 'stt'
    TTS = 'tts'
    TEXT2IMAGE = 'text2image'
    SD = 'text2image'
    IMAGE_EDITING = 'image_editing'

    @classmethod
    def parse(cls, value: 'str | ModelType') -> 'ModelType':
        """The type ``value`` is, exactly (what lazyllm itself wrote: a registry row, an
        engine's model card); InputError for anything else. User input: :meth:`read`."""
        try:
            return cls(str(getattr(value, 'value', value)).lower())
        except ValueError:
            raise InputError(f'unknown model type {value!r}: use one of '
                             f'{", ".join(t.value for t in cls)}.') from None

    @classmethod
    def read(cls, value: Any, allowed: Iterable['ModelType'] | None = None, *,
             what: str = 'model type') -> 'ModelType':
        """``type=`` as users write it, read the lenient way LazyLLM reads it: any case, an
        alias (``chat``, ``embedding``, ``sd``…), and a name that is no type at all is ``llm``
        with a warning (a typo shows in the log). A type outside ``allowed`` (the types the
        caller serves) is an InputError; ``what`` names them in messages."""
        allowed = list(allowed) if allowed is not None else list(cls)
        names = ', '.join(t.value for t in allowed)
        raw = getattr(value, 'value', value)
        a_what = f'{article(what)} {what}'
        if not isinstance(raw, str) or not raw.strip():
            raise InputError(f'type must be {a_what} such as "llm" or "embed", not {value!r}: '
                             f'use one of {names}')
        key = raw.strip().lower()
        try:
            found = cls(ALIASES.get(key, key))
        except ValueError:
            from .._log import get_logger
            get_logger().warning('type=%r is no %s: treated as llm, as LazyLLM does (the %ss: '
                                 '%s)', value, what, what, names)
            found = cls.LLM
        if found not in allowed:
            raise InputError(f'type={value!r} is not {a_what} here: use one of {names}')
        return found

    def __str__(self) -> str:
        return self.value


_NAME_RULES = [  # first match wins; only for folders (or URLs) that say nothing
    (r'rerank', ModelType.RERANK),
    (r'whisper|paraformer|sensevoice', ModelType.STT),
    (r'bge-|e5-|gte-|embed|minilm|mpnet|sentence', ModelType.EMBED),
    (r'stable-diffusion|sdxl|flux', ModelType.SD),
    (r'tts|bark|chattts|musicgen', ModelType.TTS),
    (r'-vl|vision|llava|internvl', ModelType.VLM),
]


def type_from_name(name: str) -> ModelType:
    low = name.lower()
    return next((t for pattern, t in _NAME_RULES if re.search(pattern, low)), ModelType.LLM)


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding='utf-8'))
    except (OSError, ValueError):
        return {}


def infer_type(folder: Path) -> ModelType:
    """The model type a folder declares, falling back to its name."""
    config = _read_json(folder / 'config.json')
    archs = ' '.join(config.get('architectures') or [])
    labels = config.get('id2label') or {}
    st_kind = _read_json(folder / 'config_sentence_transformers.json').get('model_type')
    # checked before modules.json: sentence-transformers >= 5 saves cross-encoders with one
    if st_kind == 'CrossEncoder' or ('ForSequenceClassification' in archs and (
            len(labels) == 1 or config.get('num_labels') == 1)):
        return ModelType.RERANK
    if 'ForSequenceClassification' in archs and (
            len(labels) > 1 or (config.get('num_labels') or 0) > 1):
        return ModelType.CLASSIFY      # a text classifier: one label per class (sentiment, …)
    if (folder / 'modules.json').is_file():
        return ModelType.EMBED
    if (folder / 'model_index.json').is_file():
        return ModelType.SD
    if 'Whisper' in archs or 'alignment_heads' in config:   # HF or CTranslate2 whisper
        return ModelType.STT
    if 'vision_config' in config and 'ForConditionalGeneration' in archs:
        return ModelType.VLM
    if config.get('model_type') == 'vision-encoder-decoder':   # image captioning (ViT+GPT-2)
        return ModelType.VLM
    if 'ForCausalLM' in archs or 'LMHeadModel' in archs:
        return ModelType.LLM
    if archs.endswith('Model') and config.get('model_type') in (
            'bert', 'xlm-roberta', 'roberta', 'mpnet', 'nomic_bert', 'new'):
        return ModelType.EMBED
    return type_from_name(folder.name)


def folder_context_length(folder: str | Path) -> int | None:
    """The context length a local model folder's config.json declares (None: no folder, or
    it says nothing); for a GGUF model, its header's."""
    if holds_gguf(folder):
        try:
            return read_header(pick_gguf(folder)).context_length
        except LazyLLMError:
            return None
    cfg = _read_json(Path(folder) / 'config.json')
    cfg = cfg.get('text_config', cfg) if isinstance(cfg, dict) else {}
    for key in ('max_position_embeddings', 'n_positions', 'max_seq_len', 'seq_length'):
        if isinstance(cfg.get(key), int) and cfg[key] > 0:
            return cfg[key]
    return None
