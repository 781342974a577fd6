"""Per-request sampling over one batch of logits.

Each row of a batch belongs to a different request with its own temperature, top_k, top_p,
repetition penalty and seed, so sampling is decided row by row; greedy rows (temperature 0)
are taken together with one argmax.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class Sampling:
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0                      # 0: no top-k cut
    repetition_penalty: float = 1.0
    seed: int | None = None
    generator: torch.Generator | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.seed is not None and self.temperature > 0:
            self.generator = torch.Generator().manual_seed(self.seed)

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0


def penalize(logits: torch.Tensor, seen: torch.Tensor, penalty: float) -> torch.Tensor:
    """The CTRL repetition penalty (as transformers applies it) on the tokens already seen."""
    scores = logits.gather(0, seen)
    scores = torch.where(scores > 0, scores / penalty, scores * penalty)
    return logits.scatter(0, seen, scores)


def _sample_row(logits: torch.Tensor, s: Sampling) -> int:
    logits = logits / s.temperature
    if s.top_k and s.top_k < logits.numel():
        kth = torch.topk(logits, s.top_k).values[-1]
        logits = logits.masked_fill(logits < kth, float('-inf'))
    if s.top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True)
        cumulative = torch.softmax(sorted_logits, dim=-1).cumsum(-1)
        drop = cumulative - torch.softmax(sorted_logits, dim=-1) >= s.top_p   # keep >= 1 token
        logits = logits.scatter(0, order, sorted_logits.masked_fill(drop, float('-inf')))
    probs = torch.softmax(logits, dim=-1)
    return int(torch.multinomial(probs, 1, generator=s.generator).item())


def next_tokens(logits: torch.Tensor, params: list[Sampling],
                seen: list[torch.Tensor]) -> list[int]:
    """One token per row of ``logits`` (rows x vocab), float32 on the CPU."""
    logits = logits.float()
    for i, s in enumerate(params):
        if s.repetition_penalty != 1.0:
            logits[i] = penalize(logits[i], seen[i], s.repetition_penalty)
    out = logits.argmax(dim=-1).tolist()
    for i, s in enumerate(params):
        if not s.greedy:
            out[i] = _sample_row(logits[i], s)
    return out
