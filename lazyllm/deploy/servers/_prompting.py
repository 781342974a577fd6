"""From a checked request to what the generator runs: prompt token ids and a grammar.

Runs in the engine's prepare thread, never on the event loop: rendering a chat template and
tokenizing a request of several MiB takes seconds, and ``/health`` must answer meanwhile.

Tools: a template that renders ``tools`` itself (Qwen2.5, Llama 3.1, Mistral…) gets them; for
one that ignores them (SmolLM2's), the tools and the call format go into the system message,
and agent turns (assistant tool calls, tool results) are written in the format's text so
any template renders them (``_tool_parsers``). ``tool_choice`` "required" or a named function
and ``response_format`` are enforced by a grammar (``_constrain``, xgrammar), compiled here
and cached per schema; xgrammar is imported only when a request first needs it.
"""
from __future__ import annotations

import threading
from typing import Any

from ._app import ApiError
from ._requests import Spec
from ._tool_parsers import ToolFormat, format_for_template, tool_format
from ._tool_prompt import messages_for_template, template_renders_tools


class Prompter:
    """Templates, tokenizes and compiles grammars for one model."""

    def __init__(self, tok: Any, vocab: int, stop_ids: set[int], name: str,
                 tool_parser: str = 'auto'):
        self.tok, self.vocab, self.stop_ids, self.name = tok, vocab, sorted(stop_ids), name
        template = getattr(tok, 'chat_template', None)
        self.template = template if isinstance(template, str) else None
        self.renders_tools = template_renders_tools(self.template)
        self.format: ToolFormat = tool_format(
            format_for_template(self.template) if tool_parser == 'auto' else tool_parser)
        self._grammars: Any = None
        self._lock = threading.Lock()

    @property
    def grammars(self) -> Any:
        with self._lock:
            if self._grammars is None:
                from ._constrain import Grammars
                self._grammars = Grammars(self.tok, self.vocab, self.stop_ids)
            return self._grammars

    # -- prompts ---------------------------------------------------------------------------
    def chat_ids(self, messages: list[dict], spec: Spec) -> list[int]:
        if not self.template:
            raise ApiError(400, f'{self.name} has no chat template: call /v1/completions with '
                                'a raw prompt, or deploy with chat_template= a built-in '
                                'template name (chatml, qwen, llama) or a Jinja file',
                           param='messages', code='invalid_value')
        tools = spec.tools if spec.calls_tools else None
        messages = messages_for_template(messages, self.format, self.renders_tools, tools)
        extra = {'tools': tools} if tools and self.renders_tools else {}
        try:
            text = self.tok.apply_chat_template(messages, tokenize=False,
                                                add_generation_prompt=True, **extra)
        except Exception as e:  # noqa: BLE001 - a template's own refusal (jinja2 raise_exception)
            raise ApiError(400, f'the chat template of {self.name} cannot render these '
                                f'messages: {type(e).__name__}: {e}', param='messages',
                           code='invalid_value') from None
        return self.tok.encode(text, add_special_tokens=False)

    def completion_ids(self, prompt: str | list[int]) -> list[int]:
        ids = list(prompt) if isinstance(prompt, list) else self.tok.encode(prompt)
        if not ids:   # an empty prompt starts from the beginning of text, as OpenAI's do
            start = self.tok.bos_token_id if self.tok.bos_token_id is not None \
                else self.stop_ids[0] if self.stop_ids else None
            if start is None:
                raise ApiError(400, 'prompt is empty and this model has no start token: send '
                                    'some text', param='prompt', code='invalid_value')
            ids = [start]
        return ids

    # -- grammars --------------------------------------------------------------------------
    def constraint(self, spec: Spec) -> Any:
        """A fresh RowConstraint for the request, or None when its output is free."""
        if spec.tool_choice in ('required', 'named'):
            # a named function is called once (as OpenAI does); "required" may call several
            parallel = spec.parallel_tool_calls and spec.tool_choice == 'required'
            compiled = self._compile('tools', lambda g: g.tool_calls(
                spec.tools, self.format, spec.tool_name, parallel))
        elif spec.response_format:
            compiled = self._compile('response_format',
                                     lambda g: g.response_format(spec.response_format))
        else:
            return None
        if compiled is None:
            return None
        from ._constrain import RowConstraint
        return RowConstraint(compiled)

    def _compile(self, param: str, build: Any) -> Any:
        try:
            grammars = self.grammars
        except ImportError:
            raise ApiError(400, f'{param} needs constrained decoding, and the engine\'s '
                                'interpreter has no xgrammar: pip install xgrammar there (it '
                                "is in lazyllm-model-layer[local])", param=param,
                           code='unsupported_parameter') from None
        from ._constrain import ConstraintError
        try:
            return build(grammars)
        except ConstraintError as e:
            raise ApiError(400, str(e), param=getattr(e, 'param', param) or param,
                           code='invalid_value') from None

