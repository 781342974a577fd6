"""Per-request sampling over one batch of logits.

Each row of a batch belongs to a different request with its own temperature, top_k, top_p,
min_p, penalties, logit bias, grammar and seed, so sampling is decided row by row; greedy
rows (temperature under ``GREEDY_BELOW``) take the argmax. A row whose logits cannot be
sampled (every token masked, NaN) raises ``RowError`` for that row only: the caller ends
that request and the rest of the batch goes on.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

GREEDY_BELOW = 1e-5     # as vLLM: 1/temperature would overflow float32 long before 1e-300


class RowError(Exception):
    """One row's next token cannot be chosen."""


@dataclass
class Sampling:
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0                      # 0: no top-k cut
    min_p: float = 0.0
    repetition_penalty: float = 1.0     # CTRL penalty over prompt + answer (transformers')
    presence_penalty: float = 0.0       # OpenAI's: over the answer's tokens only
    frequency_penalty: float = 0.0
    logit_bias: dict = field(default_factory=dict)
    seed: int | None = None
    generator: torch.Generator | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.seed is not None and not self.greedy:
            self.generator = torch.Generator().manual_seed(self.seed)

    @property
    def greedy(self) -> bool:
        return self.temperature < GREEDY_BELOW


def penalize(logits: torch.Tensor, seen: torch.Tensor, penalty: float) -> torch.Tensor:
    """The CTRL repetition penalty (as transformers applies it) on the tokens already seen."""
    scores = logits.gather(0, seen)
    scores = torch.where(scores > 0, scores / penalty, scores * penalty)
    return logits.scatter(0, seen, scores)


def adjust(logits: torch.Tensor, s: Sampling, seen: torch.Tensor, answer: list[int]) -> None:
    """Penalties and bias, in place on one row (before any grammar mask)."""
    if s.repetition_penalty != 1.0:
        logits.copy_(penalize(logits, seen, s.repetition_penalty))
    if answer and (s.presence_penalty or s.frequency_penalty):
        ids, counts = torch.tensor(answer).unique(return_counts=True)
        logits[ids] -= s.frequency_penalty * counts.float() + s.presence_penalty
    for token, bias in s.logit_bias.items():
        if token < logits.numel():
            logits[token] += bias


def _sample_row(logits: torch.Tensor, s: Sampling) -> int:
    logits = logits / s.temperature
    if s.top_k and s.top_k < logits.numel():
        kth = torch.topk(logits, s.top_k).values[-1]
        logits = logits.masked_fill(logits < kth, float('-inf'))
    probs = torch.softmax(logits, dim=-1)
    if s.min_p > 0:
        probs = probs.masked_fill(probs < s.min_p * probs.max(), 0.0)
    if s.top_p < 1.0:
        sorted_probs, order = torch.sort(probs, descending=True)
        drop = sorted_probs.cumsum(-1) - sorted_probs >= s.top_p   # keeps >= 1 token
        drop[0] = False         # even at top_p 0 (or under float32's least): the most likely
        probs = probs.scatter(0, order, sorted_probs.masked_fill(drop, 0.0))
    if not torch.isfinite(probs).all() or probs.sum() <= 0:
        raise RowError('no token can be sampled (every token masked or NaN logits)')
    return int(torch.multinomial(probs, 1, generator=s.generator).item())


def next_token(logits: torch.Tensor, s: Sampling, seen: torch.Tensor, answer: list[int],
               constraint: Any = None) -> int:
    """One token for one row: penalties, bias, the grammar's mask, then greedy or sampling."""
    adjust(logits, s, seen, answer)
    if constraint is not None:
        constraint.mask(logits)
    if s.greedy:
        if torch.isneginf(logits).all() or torch.isnan(logits).any():
            raise RowError('no token is allowed here (every token masked or NaN logits)')
        return int(logits.argmax())
    return _sample_row(logits, s)


def next_tokens(logits: torch.Tensor, rows: list[Any]) -> list[int | RowError]:
    """One token (or the RowError that row raised) per row of ``logits`` (rows x vocab).
    Each row object has ``sampling``, ``seen``, ``ids`` (the answer so far) and
    ``constraint``."""
    logits = logits.float()
    out: list[int | RowError] = []
    for i, row in enumerate(rows):
        try:
            out.append(next_token(logits[i], row.req.sampling, row.seen, row.ids,
                                  row.req.constraint))
        except RowError as e:
            out.append(e)
        except Exception as e:  # noqa: BLE001 - one row's failure is that request's only
            out.append(RowError(f'{type(e).__name__}: {e}'))
    return out
