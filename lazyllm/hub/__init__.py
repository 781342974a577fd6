"""Where weights come from (a path, LAZYLLM_MODEL_PATH roots, the cache) and what they are."""
from ._resolve import has_weights, resolve_model
from ._types import ModelType, infer_type, type_from_name

__all__ = ['ModelType', 'infer_type', 'type_from_name', 'resolve_model', 'has_weights']
