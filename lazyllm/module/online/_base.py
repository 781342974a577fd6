"""What every online module shares: supplier and key, model, base URL, clients and usage.

Construction resolves everything that can be known without the network (DESIGN rule 2):
the supplier (``_keys``), the model (``model=``, else the supplier's default for the call
type; with ``base_url=`` on the OpenAI protocol the server's own model), the URL and the
settings of the clients, so a wrong source, a missing key or a bad URL fails at the line
that made the module, not at its first call.
"""
from __future__ import annotations

import threading
from typing import Any, ClassVar

from ..._redact import mask, redact
from ...client import normalize_base_url
from ...errors import InputError
from ...hub import ModelType
from .._base import ModuleBase
from .._call_log import apply_return_trace
from ._clients import Clients
from ._keys import choose_supplier
from ._suppliers import CALL_TYPES, Supplier, suppliers

__all__ = ['OnlineBase', 'Usage', 'normalize_type']


def normalize_type(type: Any, allowed: tuple[str, ...] = CALL_TYPES) -> str:
    """The call type ``type`` names (read as ``ModelType.read`` does: an alias is mapped, a
    name that is no type is ``llm`` with a warning, as in LazyLLM), one of ``allowed``."""
    return ModelType.read(type, [ModelType(t) for t in allowed], what='online call type').value


class Usage:
    """Token counts of every call of a module (and its shares), thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals = {'requests': 0, 'prompt_tokens': 0, 'completion_tokens': 0,
                        'total_tokens': 0}

    def add(self, usage: Any) -> None:
        with self._lock:
            self._totals['requests'] += 1
            if isinstance(usage, dict):
                for key in ('prompt_tokens', 'completion_tokens', 'total_tokens'):
                    value = usage.get(key)
                    if isinstance(value, int):
                        self._totals[key] += value

    def snapshot(self) -> dict:
        with self._lock:
            return dict(self._totals)


class OnlineBase(ModuleBase):
    """The base of OnlineChatModule, OnlineEmbeddingModule and OnlineMultiModalModule."""

    types: ClassVar[tuple[str, ...]] = ()      # the call types this class serves
    default_type: ClassVar[str] = ''

    def __init__(self, model: str | None, source: str | None, base_url: str | None, *,
                 type: Any, api_key: str | None, static_params: dict | None,
                 timeout: float | None, max_retries: int | None, stream: Any = False,
                 name: str | None = None, return_trace: bool = False):
        super().__init__(stream=stream, name=name)
        apply_return_trace(self, return_trace)
        self._type = normalize_type(type or self.default_type, self.types)
        if model is not None and (not isinstance(model, str) or not model.strip()):
            raise InputError(f'model must be a non-empty str, not {model!r}: pass the '
                             f"supplier's model name, or leave it out for the default")
        if base_url is not None and not isinstance(base_url, str):
            raise InputError(f'base_url must be a str URL, not {base_url.__class__.__name__}')
        supplier, key, self._why = choose_supplier(source, api_key, base_url)
        if not supplier.offers(self._type):
            others = [s.name for s in suppliers.values() if s.offers(self._type)]
            raise InputError(f'{supplier.name} offers no {self._type} calls here: use a source '
                             f'that does ({", ".join(others) or "none"}), or base_url= for an '
                             f'OpenAI-compatible endpoint that serves it')
        self._supplier: Supplier = supplier
        self._has_key = key is not None
        self._base_url = normalize_base_url(base_url or supplier.base_url)
        # with base_url= an OpenAI-compatible server picks its own model; the other protocols
        # (Anthropic, DashScope native) always name one, so they keep the supplier's default
        needs_model = base_url is None or supplier.protocol(self._type) != 'openai'
        self._model = model or (supplier.models.get(self._type) if needs_model else None)
        if self._model is None and needs_model:
            raise InputError(f'{supplier.name} has no default {self._type} model: pass model=')
        if static_params is not None and not isinstance(static_params, dict):
            raise InputError('static_params must be a dict of request parameters sent with '
                             'every call, e.g. {"temperature": 0.2}')
        self._static = dict(static_params or {})
        self._clients = Clients(supplier, key, timeout=timeout, max_retries=max_retries)
        self._clients.check(self._base_url)
        self._usage = Usage()

    # -- what the module talks to -----------------------------------------------------------
    @property
    def source(self) -> str:
        return self._supplier.name

    @property
    def supplier(self) -> Supplier:
        return self._supplier

    @property
    def model(self) -> str | None:
        return self._model

    @property
    def base_url(self) -> str:
        return self._base_url

    @property
    def type(self) -> str:
        return self._type

    @property
    def usage(self) -> dict:
        """Requests and tokens used so far by this module and its shares."""
        return self._usage.snapshot()

    @property
    def supports_streaming(self) -> bool:
        return self._supplier.streaming

    # -- helpers for the calls --------------------------------------------------------------
    def _target(self, model: Any, url: Any) -> tuple[str | None, str]:
        """The model and base URL of one call (per-call overrides checked)."""
        if model is not None and (not isinstance(model, str) or not model):
            raise InputError(f'model= must be a non-empty str, not {model!r}')
        if url is not None:
            url = normalize_base_url(url)
        return model or self._model, url or self._base_url

    def _stop_self(self) -> None:
        self._clients.close()

    def _repr_head(self) -> str:
        parts = [f'source={self.source!r}', f'model={self._model!r}', f'type={self._type!r}']
        if self._base_url != normalize_base_url(self._supplier.base_url):
            parts.append(f'base_url={redact(self._base_url)!r}')
        parts.append(f'api_key={mask("x" if self._has_key else None)}')
        head = super()._repr_head()
        extra = head[head.index('(') + 1:-1]
        return f'{type(self).__name__}({", ".join(parts + ([extra] if extra else []))})'
