"""Prompter: LazyLLM's generic text prompter, one template string filled by key.

Used to turn dataset rows into finetuning text and for raw-completion models:
``Prompter(prompt='hello <{input}>').generate_prompt('123') == 'hello <123>'``. A row may
carry more columns than the template uses (e.g. the expected ``output``); they are ignored,
but a key the template needs and the row lacks is an error. Placeholders are
``{identifier}`` only (see _template.py), so JSON in a template needs no escaping.

A conversation template (``chat_prompt=`` or a ``{llm_chat_history}`` slot) receives past
``[user, assistant]`` pairs joined as ``eoa.join(eoh.join(pair))``, as in LazyLLM.
"""
from __future__ import annotations

import json
from typing import Any, Mapping

from .._log import get_logger
from ..errors import InputError, PromptError
from ._template import Template

TEMPLATES: dict[str, dict[str, str]] = {
    # The template of Alpaca-LoRA (tloen/alpaca-lora, templates/alpaca.json).
    'alpaca': {
        'prompt': ('Below is an instruction that describes a task, paired with an input that '
                   'provides further context. Write a response that appropriately completes '
                   'the request.\n\n### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n'
                   '### Response:\n'),
        'response_split': '### Response:',
    },
}
_KEYS = ('prompt', 'response_split', 'chat_prompt', 'history_symbol', 'eoa', 'eoh')


def _text(name: str, value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise InputError(f'Prompter {name} is a {type(value).__name__}: pass a str')
    return value


class Prompter:
    """A template string filled by key. ``Prompter()`` (or ``Prompter.empty()``) is empty:
    its ``generate_prompt`` returns the input unchanged."""

    def __init__(self, prompt: str | None = None, response_split: str | None = None, *,
                 chat_prompt: str | None = None, history_symbol: str = 'llm_chat_history',
                 eoa: str | None = None, eoh: str | None = None, show: bool = False):
        self._prompt = _text('prompt', prompt)
        self._response_split = _text('response_split', response_split)
        self._chat_prompt = _text('chat_prompt', chat_prompt)
        self._history_symbol = _text('history_symbol', history_symbol)
        self._eoa, self._eoh = _text('eoa', eoa) or '', _text('eoh', eoh) or ''
        self._show = bool(show)
        self._template = Template(prompt, 'the prompt') if prompt is not None else None
        names = list(self._template.names) if self._template else []
        self._chat: Template | None
        if chat_prompt is not None:
            if prompt is None:
                raise InputError('Prompter chat_prompt= needs prompt= too (the template used '
                                 'when there is no history)')
            chat = Template(chat_prompt, 'the chat prompt')
            if set(chat.names) != set(names) | {history_symbol}:
                raise InputError(f'Prompter chat_prompt must hold the placeholders of prompt '
                                 f'plus {{{history_symbol}}}, got {list(chat.names)}: make the '
                                 'two templates agree')
            self._chat = chat
        elif history_symbol in names:
            self._chat = self._template
        else:
            self._chat = None
        self._keys = tuple(n for n in names if n != history_symbol)
        self.use_history = self._chat is not None

    # construction from data --------------------------------------------------------------
    @classmethod
    def from_dict(cls, prompt: Mapping[str, Any], *, show: bool = False) -> 'Prompter':
        if not isinstance(prompt, Mapping):
            raise InputError(f'Prompter.from_dict takes a dict, got {type(prompt).__name__}')
        unknown = [k for k in prompt if k not in _KEYS]
        if unknown:
            raise InputError(f'Prompter.from_dict got unknown key(s) {unknown}: use '
                             f'{", ".join(_KEYS)}')
        return cls(**prompt, show=show)

    @classmethod
    def from_template(cls, template_name: str, *, show: bool = False) -> 'Prompter':
        if template_name not in TEMPLATES:
            raise InputError(f'unknown Prompter template {template_name!r}: use one of '
                             f'{", ".join(TEMPLATES)}, or Prompter.from_file / from_dict')
        return cls.from_dict(TEMPLATES[template_name], show=show)

    @classmethod
    def from_file(cls, fname: str, *, show: bool = False) -> 'Prompter':
        """A template from a JSON file with the keys of ``from_dict``."""
        try:
            with open(fname, encoding='utf-8') as fp:
                data = json.load(fp)
        except (OSError, ValueError) as e:
            raise InputError(f'cannot read a Prompter template from {fname!r}: {e}; give a '
                             'JSON file like {"prompt": "... {input} ...", "response_split": '
                             '"..."}') from e
        return cls.from_dict(data, show=show)

    @classmethod
    def empty(cls) -> 'Prompter':
        return cls()

    def _is_empty(self) -> bool:
        return self._prompt is None

    is_empty = _is_empty

    def __repr__(self) -> str:
        return f'Prompter({self._prompt!r})'

    # use -----------------------------------------------------------------------------------
    def generate_prompt(self, input: Any, history: Any = None, tools: Any = None,
                        label: str | None = None, show: bool = False) -> Any:
        """The filled template (plus ``label``); an empty Prompter returns ``input``."""
        if label is not None and not isinstance(label, str):
            raise InputError(f'label is the answer str appended to the prompt, got '
                             f'{type(label).__name__}')
        if not self._is_empty():
            if tools is not None:
                raise InputError('Prompter has no place for tools: use a ChatPrompter')
            values = self._values(input)
            template = self._template
            if self.use_history:
                values[self._history_symbol] = self._history_text(history)
                template = self._chat if history else self._template
            elif history:
                raise PromptError(f'this Prompter has no {{{self._history_symbol}}} slot for '
                                  'history: add it to the template (or chat_prompt=), or drop '
                                  'the history')
            assert template is not None  # not empty; use_history means a chat template
            input = template.fill(values) + (label or '')
        if show or self._show:
            get_logger().info('prompt: %r', input)
        return input

    def _values(self, input: Any) -> dict:
        if not isinstance(input, Mapping):
            if len(self._keys) != 1:
                raise PromptError(f'a {type(input).__name__} input fills the only placeholder, '
                                  f'but the prompt has {len(self._keys)} '
                                  f'({", ".join(self._keys) or "none"}): pass a dict input')
            return {self._keys[0]: input}
        missing = [k for k in self._keys if k not in input]
        if missing:
            raise PromptError(f'the input has no value for {missing} of the prompt: add '
                              f'{"that key" if len(missing) == 1 else "those keys"} to the '
                              'input dict')
        return {k: input[k] for k in self._keys}

    def _history_text(self, history: Any) -> str:
        if not history:
            return ''
        if not isinstance(history, (list, tuple)) or not all(
                isinstance(h, (list, tuple)) and all(isinstance(s, str) for s in h)
                for h in history):
            raise PromptError('Prompter history must be a list of [user, assistant] str pairs')
        return self._eoa.join(self._eoh.join(h) for h in history)

    def get_response(self, response: str, input: str | None = None) -> str:
        """The answer in a model's raw output: without the echoed ``input``, else what follows
        the last ``response_split``."""
        if input and response.startswith(input):
            return response[len(input):]
        if self._response_split is None:
            return response
        return response.split(self._response_split)[-1]
