"""How big a model is, read without loading it: what the memory planner (serve/_plan.py)
multiplies out.

Two figures matter. The **weights**: bytes as stored and the parameter count, read from
the safetensors headers of a folder (each file starts with a JSON table of its tensors: a
few KB read per file), else the safetensors index's ``total_size``, else the files' sizes
(a GGUF file is its own size: quantized blocks are what the engine maps), else counted from
config.json. The **KV cache per token**: layers x KV heads x head dim x 2 (keys and values),
from config.json (or a GGUF header's ``<arch>.block_count`` / ``head_count_kv`` /
``embedding_length``), with sliding-window layers (Mistral, Gemma) capped at their window
and multi-head latent attention (DeepSeek) caching its latent instead of heads. Encoders
(embedding, rerank) keep no KV cache.

``folder_size(path)`` reads a local folder or GGUF file; ``size_from(config, files)`` is
the same reading for a hub repo whose config.json and file list were fetched (no weights).
"""
from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import InputError, ModelNotFoundError
from ._gguf import GGUFHeader, holds_gguf, pick_gguf, read_header
from ._types import ModelType, infer_type

__all__ = ['ModelSize', 'folder_size', 'size_from', 'gguf_size', 'count_params', 'dtype_bytes',
           'dtype_name', 'DTYPE_BYTES']

# bytes per value, by the names of torch, safetensors and config.json's torch_dtype
DTYPE_BYTES = {'float64': 8, 'F64': 8, 'float32': 4, 'F32': 4, 'float': 4, 'float16': 2,
               'F16': 2, 'half': 2, 'bfloat16': 2, 'BF16': 2, 'int64': 8, 'I64': 8,
               'int32': 4, 'I32': 4, 'int16': 2, 'I16': 2, 'int8': 1, 'I8': 1, 'uint8': 1,
               'U8': 1, 'BOOL': 1, 'F8_E4M3': 1, 'F8_E5M2': 1, 'float8_e4m3fn': 1}
_CANONICAL = {'F64': 'float64', 'F32': 'float32', 'float': 'float32', 'F16': 'float16',
              'half': 'float16', 'BF16': 'bfloat16', 'I8': 'int8', 'U8': 'uint8',
              'F8_E4M3': 'float8', 'F8_E5M2': 'float8', 'float8_e4m3fn': 'float8'}
_ENCODERS = ('bert', 'xlm-roberta', 'roberta', 'mpnet', 'nomic_bert', 'new', 'distilbert',
             'electra', 'deberta-v2', 'modernbert')


def dtype_name(dtype: str) -> str:
    """One name per dtype, however torch, safetensors or config.json spell it: 'BF16' and
    'bfloat16' are 'bfloat16', 'half' is 'float16'."""
    return _CANONICAL.get(dtype, dtype)


def dtype_bytes(dtype: str) -> int:
    """Bytes of one value of ``dtype`` ('bfloat16', 'F32'…); an InputError for an unknown one."""
    try:
        return DTYPE_BYTES[dtype]
    except KeyError:
        raise InputError(f'unknown dtype {dtype!r}: use one of float32, bfloat16, '
                         'float16') from None


@dataclass(frozen=True)
class ModelSize:
    """A model's size (see the module docstring). ``kv_full``/``kv_window``: values cached per
    token over the layers attending to the whole context / to the last ``window`` tokens."""
    type: ModelType
    params: int                  # parameters (0 when only the bytes are known)
    weight_bytes: int            # bytes of the weights as stored
    dtype: str                   # as stored: 'bfloat16', 'float32', or a GGUF type 'Q4_K_M'
    kv_full: int = 0
    kv_window: int = 0
    window: int = 0
    context: int | None = None   # tokens the model takes (its max_position_embeddings)
    gguf: bool = False
    source: str = ''             # where the figures came from, shown in the plan

    def weights_at(self, dtype: str | None) -> int:
        """Bytes of the weights held as ``dtype`` (None or a GGUF file: as stored)."""
        if not dtype or self.gguf or not self.params or dtype == self.dtype:
            return self.weight_bytes
        return self.params * dtype_bytes(dtype)

    def kv_bytes(self, tokens: int, sequences: int, value_bytes: int) -> int:
        """KV cache of ``sequences`` sequences of ``tokens`` tokens each."""
        per_sequence = self.kv_full * tokens + self.kv_window * min(tokens, self.window)
        return per_sequence * sequences * value_bytes


def _text(config: dict) -> dict:
    """The language model's part of a config (a VLM nests it as text_config)."""
    inner = config.get('text_config')
    return inner if isinstance(inner, dict) and inner.get('num_hidden_layers') else config


def _int(cfg: dict, *keys: str) -> int:
    return next((cfg[k] for k in keys if isinstance(cfg.get(k), int) and cfg[k] > 0), 0)


def _kv_layout(config: dict) -> tuple[int, int, int]:
    """(kv_full, kv_window, window) per token from a decoder's config.json."""
    if config.get('model_type') in _ENCODERS or config.get('is_encoder_decoder'):
        return 0, 0, 0
    cfg = _text(config)
    layers = _int(cfg, 'num_hidden_layers', 'n_layer', 'num_layers')
    heads = _int(cfg, 'num_attention_heads', 'n_head')
    hidden = _int(cfg, 'hidden_size', 'n_embd', 'd_model')
    if not (layers and heads and hidden):
        return 0, 0, 0
    if _int(cfg, 'kv_lora_rank'):       # multi-head latent attention: one latent per token
        per_layer = cfg['kv_lora_rank'] + _int(cfg, 'qk_rope_head_dim')
    else:
        kv_heads = _int(cfg, 'num_key_value_heads', 'num_kv_heads') or heads
        head_dim = _int(cfg, 'head_dim') or hidden // heads
        per_layer = 2 * kv_heads * head_dim
    window = _int(cfg, 'sliding_window')
    kinds = cfg.get('layer_types')
    if not window or cfg.get('use_sliding_window') is False:
        sliding = 0
    elif isinstance(kinds, list) and kinds:
        sliding = sum(1 for k in kinds if k == 'sliding_attention')
    elif _int(cfg, 'sliding_window_pattern'):     # Gemma 3: every Nth layer is global
        sliding = layers - layers // cfg['sliding_window_pattern']
    else:
        sliding = layers                           # Mistral: every layer
    return per_layer * (layers - sliding), per_layer * sliding, window if sliding else 0


def count_params(config: dict) -> int:
    """Parameters counted from config.json alone (0 for an architecture it does not know):
    a decoder of the Llama / Qwen / Mistral shape (gated MLP, optional MoE experts) or a
    BERT-shaped encoder. Used when no weight file or index says it."""
    if config.get('model_type') in _ENCODERS:
        return _encoder_params(config)
    cfg = _text(config)
    layers, heads = _int(cfg, 'num_hidden_layers'), _int(cfg, 'num_attention_heads')
    hidden, vocab = _int(cfg, 'hidden_size'), _int(cfg, 'vocab_size')
    if not (layers and heads and hidden and vocab):
        return 0
    kv_heads = _int(cfg, 'num_key_value_heads') or heads
    head_dim = _int(cfg, 'head_dim') or hidden // heads
    attn = 2 * hidden * heads * head_dim + 2 * hidden * kv_heads * head_dim
    if cfg.get('attention_bias') or cfg.get('model_type') == 'qwen2':
        attn += heads * head_dim + 2 * kv_heads * head_dim
    experts = _int(cfg, 'num_local_experts', 'num_experts', 'n_routed_experts')
    if experts:
        expert = _int(cfg, 'moe_intermediate_size', 'intermediate_size')
        shared = _int(cfg, 'n_shared_experts') * expert + \
            _int(cfg, 'shared_expert_intermediate_size')
        mlp = 3 * hidden * (experts * expert + shared) + hidden * experts
    else:
        mlp = 3 * hidden * _int(cfg, 'intermediate_size')
    embed = vocab * hidden * (1 if cfg.get('tie_word_embeddings', False) else 2)
    return embed + layers * (attn + mlp + 2 * hidden) + hidden


def _encoder_params(cfg: dict) -> int:
    hidden, layers = _int(cfg, 'hidden_size'), _int(cfg, 'num_hidden_layers')
    inner, vocab = _int(cfg, 'intermediate_size'), _int(cfg, 'vocab_size')
    if not (hidden and layers and inner and vocab):
        return 0
    embed = (vocab + _int(cfg, 'max_position_embeddings') + _int(cfg, 'type_vocab_size')) \
        * hidden + 2 * hidden
    layer = 4 * (hidden * hidden + hidden) + 2 * hidden * inner + inner + hidden + 4 * hidden
    return embed + layers * layer + hidden * hidden + hidden       # + the pooler


def _safetensors_header(path: Path) -> dict:
    with open(path, 'rb') as f:
        (length,) = struct.unpack('<Q', f.read(8))
        if length > 100 << 20:
            raise ValueError('header longer than 100 MB')
        return json.loads(f.read(length))


def _from_safetensors(files: list[Path]) -> tuple[int, int, str]:
    """(params, bytes, most common dtype) from the files' headers."""
    params = size = 0
    by_dtype: dict[str, int] = {}
    for file in files:
        for name, tensor in _safetensors_header(file).items():
            if name == '__metadata__':
                continue
            count = 1
            for dim in tensor['shape']:
                count *= dim
            params += count
            size += tensor['data_offsets'][1] - tensor['data_offsets'][0]
            by_dtype[tensor['dtype']] = by_dtype.get(tensor['dtype'], 0) + count
    dtype = max(by_dtype, key=lambda k: by_dtype[k]) if by_dtype else 'float32'
    return params, size, dtype_name(dtype)


def size_from(config: dict, files: dict[str, int], kind: ModelType, *,
              index: dict | None = None, source: str = '') -> ModelSize:
    """A model's size from its config.json and its safetensors ``index`` (the tensors'
    exact bytes) or ``files`` ({name: bytes} of the weight files an engine would load,
    headers included)."""
    dtype = str(_text(config).get('torch_dtype') or config.get('torch_dtype')
                or _text(config).get('dtype') or config.get('dtype') or 'float32')
    dtype = dtype_name(dtype)
    stored = int(((index or {}).get('metadata') or {}).get('total_size') or 0) \
        or sum(files.values())
    params = stored // DTYPE_BYTES.get(dtype, 4) if stored else count_params(config)
    if not stored:
        stored = params * DTYPE_BYTES.get(dtype, 4)
    full, windowed, window = _kv_layout(config)
    context = _int(_text(config), 'max_position_embeddings', 'n_positions', 'max_seq_len') or None
    return ModelSize(kind, params, stored, dtype, full, windowed, window, context,
                     source=source)


_WEIGHT_FILES = ('*.safetensors', '*.bin', '*.pt', '*.pth')


def folder_size(model: str | os.PathLike, quantization: str | None = None) -> ModelSize:
    """The size of the local model ``model`` (a folder, or a GGUF file); for a folder of
    GGUF files, of the one ``quantization`` picks."""
    path = Path(model)
    if holds_gguf(path):
        return _gguf_size(pick_gguf(path, quantization))
    if not path.is_dir():
        raise ModelNotFoundError(f'{path} is not a model folder or a GGUF file.')
    try:
        config = json.loads((path / 'config.json').read_text(encoding='utf-8'))
    except (OSError, ValueError):
        config = {}
    kind = infer_type(path)
    tensors = sorted(path.glob('*.safetensors'))
    if tensors:
        try:
            params, stored, dtype = _from_safetensors(tensors)
        except (OSError, ValueError, KeyError, struct.error) as e:
            raise ModelNotFoundError(f'cannot read the safetensors headers of {path}: {e}. '
                                     'Download the model again.') from None
        full, windowed, window = _kv_layout(config)
        base = size_from(config, {}, kind)
        return replace(base, params=params, weight_bytes=stored, dtype=dtype, kv_full=full,
                       kv_window=windowed, window=window, source='safetensors headers')
    files = {p.name: p.stat().st_size for pattern in _WEIGHT_FILES for p in path.glob(pattern)
             if p.name != 'training_args.bin'}
    if not files and (path / 'model.bin').is_file():      # CTranslate2 (faster-whisper)
        files = {'model.bin': (path / 'model.bin').stat().st_size}
    index = read_index(path)
    return size_from(config, files, kind, index=index,
                     source='safetensors index' if index else 'file sizes' if files
                     else 'config.json')


def read_index(folder: Path) -> dict | None:
    """The folder's ``model.safetensors.index.json``, None without one."""
    try:
        return json.loads((folder / 'model.safetensors.index.json').read_text(encoding='utf-8'))
    except (OSError, ValueError):
        return None


def _gguf_size(file: Path) -> ModelSize:
    parts = sorted(file.parent.glob(file.name.replace('00001-of', '*-of'))) \
        if '-00001-of-' in file.name else [file]
    return gguf_size(read_header(file), sum(p.stat().st_size for p in parts))


def gguf_size(head: GGUFHeader, stored: int) -> ModelSize:
    """The size of a GGUF model of ``stored`` bytes (all its parts) whose header is ``head``."""
    arch, meta = head.architecture, head.meta
    layers = int(meta.get(f'{arch}.block_count') or 0)
    heads = int(meta.get(f'{arch}.attention.head_count') or 0)
    kv_heads = int(meta.get(f'{arch}.attention.head_count_kv') or heads)
    hidden = int(meta.get(f'{arch}.embedding_length') or 0)
    key = int(meta.get(f'{arch}.attention.key_length') or (hidden // heads if heads else 0))
    value = int(meta.get(f'{arch}.attention.value_length') or key)
    full = 0 if head.embeds else layers * kv_heads * (key + value)
    return ModelSize(ModelType.EMBED if head.embeds else ModelType.LLM, 0, stored,
                     head.quantization or 'gguf', full, context=head.context_length,
                     gguf=True, source='GGUF header')
