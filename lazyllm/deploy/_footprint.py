"""What an engine holds in memory for a model: the parts the planner (serve/_plan.py) adds up.

``Footprint`` is one engine's answer for one model and set of options: the weights as that
engine holds them (its dtype, or the GGUF file it maps), the KV cache it allocates for the
context and concurrency asked, the extra bytes loading needs at its peak (transformers
keeps the stored weights while it makes a copy in another dtype; vLLM converts tensor by
tensor), and the engine's own memory: its interpreter, libraries and buffers, measured once
per engine with a weightless model (``Engine.base_memory_mb``; bench/bench_plan.py measures
it again and prints estimate against measurement for every test model).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..hub import ModelSize, dtype_name

__all__ = ['Footprint', 'held_dtype', 'quantized_bytes']

MIB = 1 << 20


@dataclass(frozen=True)
class Footprint:
    """Bytes by part (see the module docstring) and how they were counted."""
    weights: int
    kv_cache: int
    loading: int
    engine: int
    dtype: str               # the weights as held: 'float32', 'bfloat16', 'Q4_1'…
    kv_tokens: int = 0       # the KV cache holds this many tokens…
    kv_sequences: int = 0    # …for each of this many sequences
    kv_dtype: str = ''

    @property
    def total(self) -> int:
        return self.weights + self.kv_cache + self.loading + self.engine


def held_dtype(size: ModelSize, dtype: str | None, *, gpu: bool) -> str:
    """The dtype our built-in engines hold weights in: the one asked, else float32 on a CPU
    (half-precision matmuls are slow or missing there) and the stored one on a GPU."""
    if size.gguf:
        return size.dtype
    if dtype and dtype != 'auto':
        return dtype_name(dtype)
    return size.dtype if gpu else 'float32'


# bytes per parameter of bitsandbytes' 8-bit and 4-bit weights (the 4-bit blocks carry a
# scale per 64 values; embeddings and norms stay in 16 bits, hence the round-up)
_QUANTIZED = {'8bit': 1.05, '4bit': 0.55, 'nf4': 0.55}


def quantized_bytes(size: ModelSize, quantization: str | None) -> int | None:
    """Weight bytes under a load-time quantization option (None: not one)."""
    per = _QUANTIZED.get(quantization or '')
    return int(size.params * per) if per and size.params else None
