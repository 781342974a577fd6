"""OnlineChatModule: a chat model of an online supplier (or any OpenAI-compatible URL).

    chat = lazyllm.OnlineChatModule(source='qwen', model='qwen-plus', stream=True)
    chat('hello')                                        # -> 'Hello! How can I help?'
    vlm = lazyllm.OnlineChatModule(source='openai', type='vlm')
    vlm('What is in this picture?', lazyllm_files=['cat.png'])

Calling the module returns the answer's text; when the model calls tools it returns the
assistant message (``{'role': 'assistant', 'content', 'tool_calls'}``), ready to append to
the history with the tools' results. ``chat()`` returns the whole :class:`ChatResult`
(reasoning text apart from the answer, tool calls, usage). The prompt is exactly what the
user gives: no system prompt is added unless ``prompt=`` sets one.
"""
from __future__ import annotations

from typing import Any, AsyncIterator, Callable, Iterator

from ...client import ChatDelta, ChatResult
from ...client.protocols import anthropic, dashscope, openai
from ...errors import InputError
from .._chat import ChatModule
from ._base import OnlineBase
from ._context import context_length

__all__ = ['OnlineChatModule', 'CHAT_PROTOCOLS']

CHAT_PROTOCOLS: dict[str, Callable[..., Any]] = {
    'openai': openai.chat,
    'anthropic': anthropic.chat,
    'dashscope': dashscope.chat,
}


class OnlineChatModule(OnlineBase, ChatModule):
    """A chat model behind an online API; see the module docstring. Chat calls take the one
    path of ChatModule; this class says where they go (the supplier's protocol and clients)
    and counts their usage."""

    types = ('llm', 'vlm')
    default_type = 'llm'
    any_call_params = True     # suppliers' APIs differ: a call may carry any field they take

    def __init__(self, model: str | None = None, source: str | None = None,
                 base_url: str | None = None, *, stream: bool | dict = False,
                 type: str | None = None, api_key: str | None = None, prompt: Any = None,
                 history: list | None = None, static_params: dict | None = None,
                 timeout: float | None = None, max_retries: int | None = None,
                 name: str | None = None, return_trace: bool = False, **sampling: Any):
        super().__init__(model, source, base_url, type=type, api_key=api_key,
                         static_params=static_params, timeout=timeout,
                         max_retries=max_retries, stream=stream, name=name,
                         return_trace=return_trace)
        if self._stream.enabled and not self.supports_streaming:
            raise InputError(f'{self.source} cannot stream chat answers: pass stream=False')
        protocol = self._supplier.protocol(self._type)
        assert protocol is not None     # OnlineBase checked that the supplier offers the type
        self._protocol = CHAT_PROTOCOLS[protocol]
        if prompt is not None:
            self.prompt(prompt)
        self._history = list(history or [])
        self._sampling = self._checked(dict(sampling))
        self._context_length: int | None = None

    # -- capabilities (see module/_generation.py) -------------------------------------------
    @property
    def supports_image_input(self) -> bool:
        return self._supplier.offers('vlm')

    @property
    def max_images_per_request(self) -> int | None:
        return self._supplier.max_images if self.supports_image_input else None

    @property
    def max_context_length(self) -> int | None:
        """From the table of known models (module/online/_context.py), unless set."""
        return self._context_length or context_length(self.model)

    @max_context_length.setter
    def max_context_length(self, tokens: int | None) -> None:
        if tokens is not None and (isinstance(tokens, bool) or not isinstance(tokens, int)
                                   or tokens < 1):
            raise InputError(f'max_context_length must be an int >= 1 or None, got {tokens!r}.')
        self._context_length = tokens

    # -- where chat requests go: the supplier (see ChatModule) -------------------------------
    def _route(self, kw: dict) -> tuple[str | None, str]:
        """(model, base URL) of the call: ``model=`` and ``url=`` override the module's."""
        return self._target(kw.pop('model', None), kw.pop('url', None))

    def _call(self, messages: list, params: dict, route: tuple, stream: bool) -> Callable:
        model, url = route
        return self._protocol(messages, model, params, stream, self._supplier, url)

    def _send(self, messages: list, params: dict, route: tuple) -> ChatResult:
        result = self._call(messages, params, route, False)(self._clients.api(route[1]))
        self._usage.add(result.usage)
        return result

    async def _asend(self, messages: list, params: dict, route: tuple) -> ChatResult:
        result = await self._call(messages, params, route, False)(self._clients.aapi(route[1]))
        self._usage.add(result.usage)
        return result

    def _send_stream(self, messages: list, params: dict, route: tuple) -> Iterator[ChatDelta]:
        usage = None
        for delta in self._call(messages, params, route, True)(self._clients.api(route[1])):
            usage = delta.usage or usage
            yield delta
        self._usage.add(usage)

    async def _asend_stream(self, messages: list, params: dict,
                            route: tuple) -> AsyncIterator[ChatDelta]:
        usage = None
        async for delta in self._call(messages, params, route, True)(
                self._clients.aapi(route[1])):
            usage = delta.usage or usage
            yield delta
        self._usage.add(usage)
