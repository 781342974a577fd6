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

from ..errors import InputError

__all__ = ['ModelType', 'infer_type', 'type_from_name', 'folder_context_length']


class ModelType(str, enum.Enum):
    LLM = 'llm'
    VLM = 'vlm'
    EMBED = 'embed'
    RERANK = 'rerank'
    CLASSIFY = 'classify'
    STT = 'stt'
    TTS = 'tts'
    SD = 'sd'

    @classmethod
    def parse(cls, value: 'str | ModelType') -> 'ModelType':
        try:
            return cls(str(getattr(value, 'value', value)).lower())
        except ValueError:
            raise InputError(f'unknown model type {value!r}: use one of '
                             f'{", ".join(t.value for t in cls)}.') from None

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
    it says nothing)."""
    cfg = _read_json(Path(folder) / 'config.json')
    cfg = cfg.get('text_config', cfg) if isinstance(cfg, dict) else {}
    for key in ('max_position_embeddings', 'n_positions', 'max_seq_len', 'seq_length'):
        if isinstance(cfg.get(key), int) and cfg[key] > 0:
            return cfg[key]
    return None
