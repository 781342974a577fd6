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
from ...client.protocols.media import with_images
from ...errors import InputError
from .._calls import (
    answer_of,
    as_prompter,
    check_sampling,
    default_prompter,
    llm_request,
    share_view,
)
from .._generation import ChatCapabilities
from ._base import OnlineBase
from ._context import context_length

__all__ = ['OnlineChatModule', 'CHAT_PROTOCOLS']

CHAT_PROTOCOLS: dict[str, Callable[..., Any]] = {
    'openai': openai.chat,
    'anthropic': anthropic.chat,
    'dashscope': dashscope.chat,
}
# Keywords a module (or a share) takes as defaults for every call; anything else a supplier
# accepts goes in static_params= or in the call itself.
SAMPLING = frozenset({'temperature', 'top_p', 'top_k', 'max_tokens', 'stop', 'seed',
                      'presence_penalty', 'frequency_penalty', 'repetition_penalty',
                      'tools', 'tool_choice', 'response_format', 'reasoning_effort',
                      'enable_thinking', 'thinking'})


def _check_sampling(values: dict) -> dict:
    return check_sampling(values, SAMPLING, '; put other request fields in static_params= '
                          '(every call) or in the call itself')


class OnlineChatModule(OnlineBase, ChatCapabilities):
    """A chat model behind an online API; see the module docstring."""

    types = ('llm', 'vlm')
    default_type = 'llm'

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
        self._prompter = default_prompter() if prompt is None else as_prompter(prompt)
        self._history = list(history or [])
        self._sampling = _check_sampling(dict(sampling))
        self._context_length: int | None = None

    # -- builders ---------------------------------------------------------------------------
    def prompt(self, prompt: Any = None, history: list | None = None) -> OnlineChatModule:
        """Set the prompter, as LazyLLM: a str or dict is a ChatPrompter (with ``history``
        as its few-shot turns), a prompter is used as is, ``None`` is an EmptyPrompter (no
        system text; the input is the user message). Without ``prompt=`` or a call to
        ``prompt()`` the module has a ChatPrompter with no instruction."""
        self._prompter = as_prompter(prompt, history)
        return self

    def share(self, prompt: Any = None, format: Callable | None = None,
              stream: bool | dict | None = None, history: list | None = None,
              **sampling: Any) -> OnlineChatModule:
        """A view with its own prompt, formatter, stream setting, history and sampling
        defaults, on the same clients and usage counter. The original is not changed."""
        view = share_view(self, prompt, format, stream, history, _check_sampling(sampling))
        return view

    # -- one call ---------------------------------------------------------------------------
    def _plan(self, input: Any, kw: dict, stream: bool) -> tuple[Callable, str]:
        """The protocol call for ``input`` and the base URL it goes to."""
        files = kw.pop('lazyllm_files', None)
        model, url = self._target(kw.pop('model', None), kw.pop('url', None))
        history = self._history + list(kw.pop('history', None) or [])
        params = {**self._static, **self._sampling, **kw}
        messages, params = llm_request(self._prompter, input, history, params)
        if files:
            images = files if isinstance(files, (list, tuple)) else [files]
            if len(images) > self._supplier.max_images:
                raise InputError(f'{len(images)} images in one call, but {self.source} takes '
                                 f'at most {self._supplier.max_images}: send fewer')
            messages = with_images(messages, images)
        return self._protocol(messages, model, params, stream, self._supplier, url), url

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

    def chat(self, input: Any = None, **kw: Any) -> ChatResult:
        """The whole answer: ``content``, ``reasoning_content``, ``tool_calls``, ``usage``.
        Keywords: ``lazyllm_files`` (images), ``history``, ``model``, ``url``, ``tools``
        and any request parameter (``temperature=0``…)."""
        call, url = self._plan(input, kw, stream=False)
        result = call(self._clients.api(url))
        self._usage.add(result.usage)
        return result

    def stream_chat(self, input: Any = None, **kw: Any) -> Iterator[ChatDelta]:
        """The answer as deltas (text, reasoning text and tool-call fragments apart)."""
        call, url = self._plan(input, kw, stream=True)
        usage = None
        for delta in call(self._clients.api(url)):
            usage = delta.usage or usage
            yield delta
        self._usage.add(usage)

    def forward(self, input: Any = None, **kw: Any) -> Any:
        return answer_of(self.chat(input, **kw))

    def stream_forward(self, input: Any = None, **kw: Any) -> Iterator[Any]:
        """Yield the answer's text as it arrives; a final assistant message dict follows when
        the model called tools."""
        fragments: list = []
        for delta in self.stream_chat(input, **kw):
            if delta.content:
                yield delta.content
            fragments += delta.tool_calls
        if fragments:
            yield answer_of(ChatResult.from_deltas([ChatDelta(tool_calls=fragments)]))

    # -- async twins ------------------------------------------------------------------------
    async def acall(self, input: Any = None, **kw: Any) -> Any:
        """The async twin of calling the module (formatter applied; hooks are sync-only)."""
        call, url = self._plan(input, kw, stream=False)
        result = await call(self._clients.aapi(url))
        self._usage.add(result.usage)
        out = answer_of(result)
        return self._formatter(out) if self._formatter is not None else out

    __acall__ = acall

    async def astream(self, input: Any = None, **kw: Any) -> AsyncIterator[str]:
        call, url = self._plan(input, kw, stream=True)
        usage = None
        async for delta in call(self._clients.aapi(url)):
            usage = delta.usage or usage
            if delta.content:
                yield delta.content
        self._usage.add(usage)


