"""What every chat model module offers beyond a call: capabilities, ``agenerate``, ``batch``.

Users coming from other model layers expect one contract on any model, local or online:

    m.supports_streaming, m.supports_image_input, m.max_images_per_request
    m.max_context_length                 # tokens, from the model (local) or the supplier table
    text = await m.agenerate('Hi', max_tokens=20)
    async for piece in m.astream('Hi'): ...
    items = m.batch(['q1', 'q2', 'q3'], temperature=0)   # concurrent, in input order
    items[0].text, items[0].completion_tokens, items[0].latency, items[0].tokens_per_second

A module that mixes ``ChatCapabilities`` in implements ``chat(input, **kw) -> ChatResult``
(the whole answer with its usage) and ``acall``/``astream``; ``batch`` runs ``chat`` for each
prompt on a thread pool, so a local engine's dynamic batching and an online supplier's
concurrency both apply.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Sequence

from ..errors import InputError

__all__ = ['ChatCapabilities', 'BatchItem']


@dataclass(frozen=True)
class BatchItem:
    """One answer of ``batch()``: the text (the module's formatter applied) or the error,
    the token counts the endpoint reported, and the seconds the call took."""
    index: int
    prompt: Any
    text: Any = None
    error: BaseException | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def tokens_per_second(self) -> float | None:
        """Completion tokens per second of this call (None without a token count)."""
        if not self.completion_tokens or self.latency <= 0:
            return None
        return self.completion_tokens / self.latency


def _check_batch(prompts: Any, concurrency: Any) -> list:
    if isinstance(prompts, (str, bytes)) or not isinstance(prompts, Sequence):
        raise InputError(f'batch() takes a list of prompts, not {type(prompts).__name__}; '
                         f'for one prompt call the module: m(prompt).')
    if not prompts:
        raise InputError('batch() got an empty list: pass at least one prompt.')
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or \
            not 1 <= concurrency <= 256:
        raise InputError(f'concurrency must be an int from 1 to 256, got {concurrency!r}.')
    return list(prompts)


class ChatCapabilities:
    """Mixin for chat modules; see the module docstring."""

    # read-only properties, so that a module can compute them (from its model or supplier)
    @property
    def supports_streaming(self) -> bool:
        return True

    @property
    def supports_image_input(self) -> bool:
        return False

    @property
    def max_images_per_request(self) -> int | None:
        return None

    @property
    def max_context_length(self) -> int | None:
        """How many tokens (prompt + answer) the model takes; None when not known."""
        return None

    def chat(self, input: Any = None, **kw: Any) -> Any:   # pragma: no cover - abstract
        raise NotImplementedError

    async def agenerate(self, prompt: Any, **kw: Any) -> Any:
        """The answer to ``prompt`` (sampling keywords such as ``max_tokens`` apply)."""
        # acall comes from the module class this mixin is combined with (ModuleBase)
        return await self.acall(prompt, **kw)  # type: ignore[attr-defined]

    def batch(self, prompts: Sequence[Any], *, concurrency: int = 8,
              return_exceptions: bool = False, **kw: Any) -> list[BatchItem]:
        """Answer every prompt, ``concurrency`` at a time; the items come back in the order
        of ``prompts``. A failed prompt raises its error once all have finished, unless
        ``return_exceptions=True`` (then its item carries ``error``)."""
        prompts = _check_batch(prompts, concurrency)
        shape = self._format   # type: ignore[attr-defined]  # of ModuleBase, mixed in with it

        def one(index: int, prompt: Any) -> BatchItem:
            started = time.perf_counter()
            try:
                result = self.chat(prompt, **kw)
            except Exception as e:  # noqa: BLE001 - kept in the item, raised below if asked
                return BatchItem(index, prompt, error=e,
                                 latency=time.perf_counter() - started)
            latency = time.perf_counter() - started
            usage = result.usage or {}
            text = shape(result.content)
            return BatchItem(index, prompt, text=text, latency=latency,
                             prompt_tokens=usage.get('prompt_tokens'),
                             completion_tokens=usage.get('completion_tokens'))

        with ThreadPoolExecutor(max_workers=min(concurrency, len(prompts)),
                                thread_name_prefix='lazyllm-batch') as pool:
            items = list(pool.map(one, range(len(prompts)), prompts))
        failed = next((i.error for i in items if i.error is not None), None)
        if failed is not None and not return_exceptions:
            raise failed
        return items
