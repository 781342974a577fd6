"""ChatModule: the one chat path of every chat model, local or online.

    base = lazyllm.TrainableModule(path).start()          # or lazyllm.OnlineChatModule(...)
    poet = base.share(prompt='You are a poet.', temperature=0)
    poet('the sea')                                       # text (or a tool-call message)
    poet.chat('the sea').usage                            # the whole ChatResult
    for piece in poet.stream('the sea'): ...
    await poet.acall('the sea'); poet.batch(['a', 'b'])

What a chat call is -- prompt and history made into messages, sampling defaults merged and
checked against one set, tools and ``response_format``, images attached, the answer shaped
(text, or the assistant message when the model called tools), streaming, async, the
formatter -- is decided here once, for TrainableModule and OnlineChatModule alike, so a
change to chat is made once. A subclass says only *where requests go*, by filling the seam
at the end of the class: ``_route`` (pop the per-call keywords that pick the target),
``_send``/``_send_stream`` and their async twins (send built messages and parameters,
return a :class:`~lazyllm.client.ChatResult` or :class:`~lazyllm.client.ChatDelta` s).

Capabilities are class attributes (as plugins of ``llm`` declare theirs): ``any_call_params``
(a call may carry any request field the endpoint takes: online suppliers, whose APIs differ;
a local engine takes the sampling set) and ``json_from_formatter`` (a JsonFormatter makes the
request ask for a JSON object, which lazyllm's engines enforce by constrained decoding).
"""
from __future__ import annotations

from typing import Any, AsyncIterator, Callable, ClassVar, Iterator

from ..client import ChatDelta, ChatResult
from ..errors import InputError
from ._base import ModuleBase
from ._calls import (
    answer_of,
    as_prompter,
    check_sampling,
    default_prompter,
    json_mode,
    llm_request,
    share_view,
)
from ._generation import ChatCapabilities

__all__ = ['ChatModule', 'SAMPLING']

# The keywords a chat module (or a share) takes as defaults for every call. A local engine
# refuses, with a 400 naming it, a field it cannot honour; an online supplier its own way.
SAMPLING = frozenset({
    'temperature', 'top_p', 'top_k', 'min_p', 'max_tokens', 'stop', 'seed',
    'repetition_penalty', 'presence_penalty', 'frequency_penalty', 'logit_bias',
    'tools', 'tool_choice', 'parallel_tool_calls', 'response_format',
    'reasoning_effort', 'enable_thinking', 'thinking'})


class ChatModule(ChatCapabilities, ModuleBase):
    """A chat model you call like a function; see the module docstring."""

    any_call_params: ClassVar[bool] = False
    json_from_formatter: ClassVar[bool] = False
    _static: dict[str, Any] = {}   # request fields sent with every call (online); never mutated

    def __init__(self, *, stream: bool | dict = False, name: str | None = None):
        super().__init__(stream=stream, name=name)
        self._prompter = default_prompter()
        self._history: list = []
        self._sampling: dict = {}

    # -- builders (return self) -----------------------------------------------------------
    def prompt(self, prompt: Any = None, history: list | None = None) -> Any:
        """Set the prompter, as LazyLLM: a str or dict is a ChatPrompter (with ``history``
        as its few-shot turns), a prompter is used as is, ``None`` is an EmptyPrompter (no
        system text; the input is the user message). Until then the module has a
        ChatPrompter with no instruction."""
        self._prompter = as_prompter(prompt, history)
        return self

    def share(self, prompt: Any = None, format: Callable | None = None,
              stream: bool | dict | None = None, history: list | None = None,
              **sampling: Any) -> Any:
        """A view on the same model (deployment or supplier clients) with its own prompt,
        formatter, stream setting, history and sampling defaults. Changing the view never
        changes this module."""
        return share_view(self, prompt, format, stream, history, self._checked(sampling))

    # -- one chat call, whatever serves it --------------------------------------------------
    def chat(self, input: Any = None, **kw: Any) -> ChatResult:
        """The whole answer: ``content``, ``reasoning_content``, ``tool_calls``, ``usage``,
        ``finish_reason``. Keywords: ``history``, ``lazyllm_files`` (images), ``tools`` and the
        sampling options (``temperature=0``…)."""
        return self._send(*self._prepare(input, kw))

    def stream_chat(self, input: Any = None, **kw: Any) -> Iterator[ChatDelta]:
        """The answer as deltas (text, reasoning text and tool-call fragments apart)."""
        return self._send_stream(*self._prepare(input, kw))

    async def achat(self, input: Any = None, **kw: Any) -> ChatResult:
        """The async twin of :meth:`chat`."""
        return await self._asend(*self._prepare(input, kw))

    def astream_chat(self, input: Any = None, **kw: Any) -> AsyncIterator[ChatDelta]:
        """The async twin of :meth:`stream_chat`."""
        return self._asend_stream(*self._prepare(input, kw))

    def forward(self, input: Any = None, **kw: Any) -> Any:
        return answer_of(self.chat(input, **kw))

    async def aforward(self, input: Any = None, **kw: Any) -> Any:
        return answer_of(await self.achat(input, **kw))

    def stream_forward(self, input: Any = None, **kw: Any) -> Iterator[Any]:
        """Yield the answer's text as it arrives; a final assistant message dict follows when
        the model called tools."""
        fragments: list = []
        for delta in self.stream_chat(input, **kw):
            if delta.content:
                yield delta.content
            fragments += delta.tool_calls
        if fragments:
            yield _tool_message(fragments)

    async def astream(self, input: Any = None, **kw: Any) -> AsyncIterator[Any]:
        """The async twin of :meth:`stream_forward`."""
        fragments: list = []
        async for delta in self.astream_chat(input, **kw):
            if delta.content:
                yield delta.content
            fragments += delta.tool_calls
        if fragments:
            yield _tool_message(fragments)

    def _checked(self, sampling: dict) -> dict:
        hint = ('; put other request fields in static_params= (every call) or in the call '
                'itself') if self.any_call_params else ''
        return check_sampling(sampling, SAMPLING, hint)

    def _prepare(self, input: Any, kw: dict) -> tuple[list, dict, Any]:
        """(messages, params, route) of one call: the subclass pops its routing keywords
        first, so the rest are checked as request fields."""
        route = self._route(kw)
        return (*self._request(input, kw), route)

    def _request(self, input: Any, kw: dict) -> tuple[list, dict]:
        """OpenAI messages and request parameters of one call: the prompter's messages for
        ``input`` after the history, images attached, the module's defaults under the
        call's keywords."""
        files = kw.pop('lazyllm_files', None)
        history = self._history + list(kw.pop('history', None) or [])
        call = kw if self.any_call_params else self._checked(kw)
        params = {**self._static, **self._sampling, **call}
        if self.json_from_formatter:
            params = json_mode(params, self._formatter)
        messages, params = llm_request(self._prompter, input, history, params)
        if files is not None:
            messages = self._with_images(messages, files)
        return messages, params

    def _with_images(self, messages: list, files: Any) -> list:
        from ..client.protocols.media import with_images
        images = files if isinstance(files, (list, tuple)) else [files]
        most = self.max_images_per_request
        if most is not None and len(images) > most:
            raise InputError(f'{len(images)} images in one call, but {self.name} takes at '
                             f'most {most}: send fewer')
        return with_images(messages, images)

    # -- where requests go: the seam a subclass fills ---------------------------------------
    def _route(self, kw: dict) -> Any:
        """Pop the per-call keywords that choose the target (none by default); what is
        returned reaches ``_send``."""
        return None

    def _send(self, messages: list, params: dict, route: Any) -> ChatResult:
        raise NotImplementedError(f'{type(self).__name__} must say where chat requests go')

    def _send_stream(self, messages: list, params: dict, route: Any) -> Iterator[ChatDelta]:
        raise NotImplementedError(f'{type(self).__name__} must say where chat requests go')

    async def _asend(self, messages: list, params: dict, route: Any) -> ChatResult:
        raise NotImplementedError(f'{type(self).__name__} must say where chat requests go')

    def _asend_stream(self, messages: list, params: dict,
                      route: Any) -> AsyncIterator[ChatDelta]:
        raise NotImplementedError(f'{type(self).__name__} must say where chat requests go')


def _tool_message(fragments: list) -> Any:
    """The assistant message of the tool calls whose fragments a stream delivered."""
    return answer_of(ChatResult.from_deltas([ChatDelta(tool_calls=fragments)]))
