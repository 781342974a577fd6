"""Dynamic batching for a transformers causal LM.

One worker thread owns the model. Requests queue up; the worker takes every request that is
waiting (after a short gathering window, up to ``max_batch``) and generates them together as
one batch: left-padded prompts, one forward pass per step for all rows, each row with its own
sampling, stop strings and token budget. A row that finishes is dropped from the batch (and
from the KV cache), so long answers do not slow down finished ones. Requests arriving during
a batch wait for the next one. Throughput therefore grows with concurrency, which a
one-request-at-a-time server (LazyLLM's) cannot give on a CPU.

Each request receives ``Event``s through its ``emit`` callback, called from the worker
thread: text deltas as they are decoded, then one final event with the finish reason.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from ._sampling import RowError, Sampling, next_tokens

log = logging.getLogger('lazyllm.engine')


@dataclass
class Event:
    text: str = ''
    finish_reason: str | None = None     # 'stop' | 'length' | 'error' on the last event
    completion_tokens: int = 0
    error: str | None = None


@dataclass
class GenRequest:
    prompt_ids: list[int]
    max_tokens: int
    sampling: Sampling
    emit: Callable[[Event], None]
    stop: list[str] = field(default_factory=list)
    cancelled: bool = False
    adapter: str | None = None           # the LoRA adapter set it needs (see ``activate``)
    constraint: Any = None               # a grammar (``_constrain.RowConstraint``) or None


class _Row:
    """The decoding state of one request inside a batch."""

    def __init__(self, req: GenRequest, tokenizer: Any):
        self.req, self.tok = req, tokenizer
        self.ids: list[int] = []
        self.text = ''          # decoded so far
        self.sent = 0           # characters of text already emitted
        self.hold = max((len(s) for s in req.stop), default=1) - 1
        self.seen = torch.tensor(req.prompt_ids, dtype=torch.long)

    def add(self, token: int, eos: set[int]) -> str | None:
        """Take one token; return a finish reason when the row is done."""
        if self.req.constraint is not None and not self.req.constraint.accept(token):
            raise RowError(f'the grammar refused token {token}')
        if token in eos:
            self.text = self.tok.decode(self.ids, skip_special_tokens=True)
            return 'stop'
        self.ids.append(token)
        if self.req.sampling.repetition_penalty != 1.0:
            self.seen = torch.cat([self.seen, torch.tensor([token])])
        text = self.tok.decode(self.ids, skip_special_tokens=True)
        at_limit = len(self.ids) >= self.req.max_tokens
        if at_limit or not text.endswith('\ufffd'):   # wait for the rest of a multi-byte char
            self.text = text
        for s in self.req.stop:
            at = self.text.find(s, max(0, self.sent - len(s)))
            if at >= 0:
                self.text = self.text[:at]
                return 'stop'
        if self.req.constraint is not None and self.req.constraint.finished:
            self.text = self.tok.decode(self.ids, skip_special_tokens=True)
            return 'stop'             # the grammar is complete: only a stop token could follow
        return 'length' if at_limit else None

    def flush(self, final: bool) -> str:
        """Text not yet emitted; keeps back what could still become a stop string."""
        end = len(self.text) if final else max(self.sent, len(self.text) - self.hold)
        delta, self.sent = self.text[self.sent:end], end
        return delta


class BatchGenerator:
    """The worker that owns the model; ``submit`` is thread-safe.

    ``activate(adapter)``, when given, switches the model to the LoRA adapter that a group of
    requests needs (``GenRequest.adapter``). A forward pass never mixes adapters: a gathered
    batch is split into one group per adapter, in order of arrival, and the groups are
    generated one after the other (the switch itself is cheap: no weights are merged). The
    cost is throughput: N adapters requested at once take about N batches' time instead of
    one.

    For the engine's metrics: ``depth`` is how many requests are waiting or generating, and
    ``on_batch``, when set, is called with the size of every batch run (one per adapter
    group), on the worker thread."""

    def __init__(self, model: Any, tokenizer: Any, *, max_batch: int = 16,
                 gather_ms: float = 10.0, max_gather_ms: float = 100.0,
                 activate: Callable[[Any], None] | None = None):
        self.model, self.tok, self.activate = model, tokenizer, activate
        self.max_batch, self.gather = max_batch, gather_ms / 1000
        self.max_gather = max_gather_ms / 1000
        eos = model.generation_config.eos_token_id
        self.eos = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        if tokenizer.eos_token_id is not None:
            self.eos.add(tokenizer.eos_token_id)
        self.pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None \
            else next(iter(self.eos), 0)
        self.stats = {'requests': 0, 'batches': 0, 'max_batch': 0, 'tokens': 0, 'cancelled': 0,
                      'failed': 0}
        self._queue: queue.Queue[GenRequest | None] = queue.Queue()
        self._active: set[int] = set()    # id() of requests submitted and not yet finished
        self.on_batch: Callable[[int], None] | None = None
        self._thread = threading.Thread(target=self._loop, name='lazyllm-generate', daemon=True)
        self._thread.start()

    def submit(self, req: GenRequest) -> None:
        self._active.add(id(req))
        self._queue.put(req)

    @property
    def depth(self) -> int:
        return len(self._active)

    def _end(self, req: GenRequest, ev: Event) -> None:
        """Send a request's last event; it no longer counts in ``depth`` (the discard makes
        a second last event, after a failed batch, harmless)."""
        self._active.discard(id(req))
        req.emit(ev)

    def close(self) -> None:
        self._queue.put(None)

    # -- the worker -----------------------------------------------------------------------
    def _take_batch(self) -> list[GenRequest] | None:
        """Everything that arrives together: keep gathering while requests keep coming (no
        gap longer than ``gather``), for at most ``max_gather``, up to ``max_batch``. Requests
        sent at the same moment reach the queue a few ms apart (each is parsed and templated
        first), so a fixed window after the first one would split them."""
        first = self._queue.get()
        if first is None:
            return None
        batch = [first]
        cap = time.monotonic() + self.max_gather
        while len(batch) < self.max_batch:
            wait = min(self.gather, cap - time.monotonic())
            if wait <= 0:
                break
            try:
                nxt = self._queue.get(timeout=wait)
            except queue.Empty:
                break
            if nxt is None:
                self._queue.put(None)
                break
            batch.append(nxt)
        return batch

    def _loop(self) -> None:
        while (batch := self._take_batch()) is not None:
            groups: dict[Any, list[GenRequest]] = {}
            for r in batch:
                if not r.cancelled:
                    groups.setdefault(r.adapter, []).append(r)
                else:       # left before it started: no event, nobody reads one
                    self._active.discard(id(r))
            for adapter, group in groups.items():
                self._run(adapter, group)

    def _run(self, adapter: Any, batch: list[GenRequest]) -> None:
        """Generate ``batch`` (requests that all need ``adapter``) together."""
        self.stats['requests'] += len(batch)
        self.stats['batches'] += 1
        self.stats['max_batch'] = max(self.stats['max_batch'], len(batch))
        if self.on_batch is not None:
            self.on_batch(len(batch))
        try:
            if self.activate is not None:
                self.activate(adapter)
            with torch.inference_mode():
                self._generate(batch)
        except Exception as e:  # one bad batch must not kill the engine
            log.exception('generation failed')
            for r in batch:
                self._end(r, Event(finish_reason='error', error=f'{type(e).__name__}: {e}'))

    def _generate(self, batch: list[GenRequest]) -> None:
        rows = [_Row(r, self.tok) for r in batch]
        width = max(len(r.prompt_ids) for r in batch)
        ids = torch.full((len(batch), width), self.pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for i, r in enumerate(batch):
            ids[i, width - len(r.prompt_ids):] = torch.tensor(r.prompt_ids)
            mask[i, width - len(r.prompt_ids):] = 1
        dev = self.model.device   # the first layer's device (a GPU, or where a map starts)
        ids, mask = ids.to(dev), mask.to(dev)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        out = self.model(input_ids=ids, attention_mask=mask, position_ids=positions,
                         use_cache=True, logits_to_keep=1)   # not rows x prompt x vocab
        # sampling reads the last logits on the CPU, beside each row's seen tokens
        cache, logits = out.past_key_values, out.logits[:, -1, :].cpu()
        positions = positions[:, -1:]
        while rows:
            tokens = next_tokens(logits, rows)
            keep = []
            for i, (row, token) in enumerate(zip(rows, tokens)):
                try:
                    if isinstance(token, RowError):
                        raise token
                    reason = 'cancelled' if row.req.cancelled else row.add(token, self.eos)
                except Exception as e:  # noqa: BLE001 - fails this row's request only
                    log.warning('a request failed inside a batch of %d: %s', len(rows), e)
                    self._end(row.req, Event(finish_reason='error', error=str(e)))
                    self.stats['failed'] += 1
                    continue
                if reason is None:
                    delta = row.flush(final=False)
                    if delta:
                        row.req.emit(Event(text=delta))
                    keep.append(i)
                else:
                    self._end(row.req, Event(text=row.flush(final=True), finish_reason=reason,
                                             completion_tokens=len(row.ids)))
                    self.stats['tokens'] += len(row.ids)
                    self.stats['cancelled'] += reason == 'cancelled'
            if not keep:
                return
            if len(keep) < len(rows):
                index = torch.tensor(keep, device=dev)
                cache.batch_select_indices(index)
                mask, positions = mask[index], positions[index]
                tokens = [tokens[i] for i in keep]
                rows = [rows[i] for i in keep]
            mask = torch.cat([mask, torch.ones((len(rows), 1), dtype=torch.long, device=dev)],
                             dim=1)
            positions = positions + 1
            out = self.model(input_ids=torch.tensor(tokens, device=dev).unsqueeze(1),
                             attention_mask=mask, position_ids=positions,
                             past_key_values=cache, use_cache=True)
            cache, logits = out.past_key_values, out.logits[:, -1, :].cpu()
