"""PrompterBase: what every prompter shares, with LazyLLM's meaning.

A prompter turns a call's input (a str or a dict of values) into one plain string (the
default: for raw-completion models and finetuning data) or OpenAI chat messages
(``format='openai'``). Everything that can be checked is checked at construction, so a
prompter that was built will not fail later for a reason its author could have seen. After
construction only the LazyLLM-compatible ``_set_model_configs`` changes it (meant for setup,
before the prompter is shared); otherwise it is immutable, which makes sharing one prompter
between threads and module shares safe.

Where the input goes (LazyLLM's rules):

* the prompter's *keys* are the ``{placeholders}`` of its texts plus its ``extra_keys``;
* a str (or int) input fills the only key when there is exactly one; with no key it is the
  user's input; with several it is an error (pass a dict);
* a dict input fills every key (a missing one is an error); at most one other key may be
  left, and its value is the user's input (``dict(context=..., query=q)`` with
  ``extra_keys=['context']`` sends ``q``); two or more such keys are an error;
* ``extra_keys`` values are written after the instruction under LazyLLM's heading
  ``Here are some extra messages you can referred to:`` as ``### key:\\nvalue`` sections;
* the instruction (and extra keys) go to the system part; a user template
  (``instruction={'user': ...}``) is put before the user's input in the user part.
"""
from __future__ import annotations

import copy
from typing import Any, Callable, Mapping, NamedTuple, Sequence

from .._log import get_logger
from ..errors import InputError, PromptError
from ._layout import TOKENS, check_configs, extra_text
from ._messages import check_content, content_text, normalize_history, normalize_tools
from ._template import Template, to_text

FORMATS = ('openai', 'text', None)


class Parts(NamedTuple):
    """One call's filled pieces, before they are laid out as messages or text."""
    system: str             # the filled ``system=`` text ('' when none)
    instruction: str        # the instruction block, laid out by the prompter ('' when none)
    user: str               # the filled user template ('' when none)
    input: Any              # the user's input: str, list of content parts, or None (no turn)
    history: list           # message dicts: the prompter's history, then the call's


def _quote(names: Sequence[str]) -> str:
    return ', '.join(repr(n) for n in names)


def _split_instruction(name: str, instruction: Any) -> tuple[str, str, bool]:
    """(system part, user template, whether a dict was given), each text checked."""
    if instruction is None or isinstance(instruction, str):
        return instruction or '', '', False
    if not isinstance(instruction, Mapping):
        raise InputError(f'{name} instruction is a {type(instruction).__name__}: pass a str '
                         "or a dict {'system': ..., 'user': ...}")
    bad = [k for k in instruction if k not in ('system', 'user')]
    if bad:
        raise InputError(f'{name} instruction dict has key(s) {_quote(bad)}: use only '
                         "'system' (the system text) and 'user' (put before the user's input)")
    for key in ('system', 'user'):
        if not isinstance(instruction.get(key) or '', str):
            raise InputError(f"{name}: instruction['{key}'] is a "
                             f'{type(instruction[key]).__name__}: pass a str')
    return instruction.get('system') or '', instruction.get('user') or '', True


def _extra_keys(name: str, extra_keys: Any) -> tuple[str, ...]:
    if extra_keys is None:
        return ()
    keys = [extra_keys] if isinstance(extra_keys, str) else extra_keys
    if (not isinstance(keys, (list, tuple)) or not all(isinstance(k, str) and k for k in keys)
            or len(set(keys)) != len(keys)):
        raise InputError(f'{name} extra_keys={extra_keys!r}: pass a str or a list of distinct '
                         "non-empty str, e.g. extra_keys=['context']")
    return tuple(keys)


class PrompterBase:
    """Shared construction, validation and input routing. Subclasses lay the parts out:
    ``_instruction_block`` (the system part) and ``_render_text`` (the text layout)."""

    # Set once through ``_set`` (``__setattr__`` refuses), declared here for the type checker.
    _instruction: str | dict[str, str] | None
    _is_dict: bool
    _extra_keys: tuple[str, ...]
    _show: bool
    _configs: dict[str, str]
    _history: tuple[dict[str, Any], ...]
    _tools: tuple[dict[str, Any], ...]
    _templates: dict[str, Template]
    _where_main: str
    _keys: tuple[str, ...]

    def __init__(self, instruction: str | Mapping[str, str] | None = None,
                 extra_keys: str | Sequence[str] | None = None, show: bool = False,
                 tools: Any = None, history: Any = None, *, system: str | None = None):
        name = type(self).__name__
        main, user, is_dict = _split_instruction(name, instruction)
        if system is not None and not isinstance(system, str):
            raise InputError(f'{name}: the system text is a {type(system).__name__}: pass a str')
        if not isinstance(show, bool):
            raise InputError(f'{name} show={show!r}: pass True or False')
        own = f'the history given to {name}()'
        self._set(
            _instruction=dict(instruction) if isinstance(instruction, Mapping) else instruction,
            _is_dict=is_dict, _extra_keys=_extra_keys(name, extra_keys), _show=show,
            _configs={'system': system or '', **dict.fromkeys(TOKENS, '')},
            _history=tuple(normalize_history(history, own)),
            _tools=tuple(normalize_tools(tools, f'the tools given to {name}()')))
        self._compile(main, user)

    def _compile(self, main: str, user: str) -> None:
        """Parse the texts once; a key that is both a placeholder and an extra key is an
        error (it would be filled twice)."""
        where_main = "instruction['system']" if self._is_dict else 'the instruction'
        texts = {'the system text': self._configs['system'], where_main: main,
                 "instruction['user']": user}
        templates = {w: Template(t, w) for w, t in texts.items()}
        names = tuple(dict.fromkeys(n for t in templates.values() for n in t.names))
        clash = [k for k in self._extra_keys if k in names]
        if clash:
            raise InputError(f'{type(self).__name__} extra_keys {_quote(clash)} are also '
                             '{placeholders}: list each key either as a placeholder or as an '
                             'extra key')
        self._set(_templates=templates, _where_main=where_main,
                  _keys=names + self._extra_keys)

    # mutation: only the LazyLLM-compatible model configs -------------------------------
    def _set(self, **attrs: Any) -> None:
        for key, value in attrs.items():
            object.__setattr__(self, key, value)

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError(f'{type(self).__name__} is immutable: build a new prompter '
                             f'instead of setting {key!r}')

    def __delattr__(self, key: str) -> None:
        self.__setattr__(key, None)

    def _set_model_configs(self, **configs: str | None) -> None:
        """Set the system text and the text layout's model tokens (``sos``, ``eos``, ``soh``,
        ``eoh``, ``soa``, ``eoa``, ``soe``, ``eoe``), as LazyLLM does for a model family.
        Call it while setting up, before the prompter is used by several threads."""
        checked = check_configs(type(self).__name__, configs)
        self._set(_configs={**self._configs, **checked})
        self._compile(self._templates[self._where_main].text,
                      self._templates["instruction['user']"].text)

    # read-only views -------------------------------------------------------------------
    @property
    def instruction(self) -> str | dict | None:
        return dict(self._instruction) if isinstance(self._instruction, dict) else self._instruction

    @property
    def extra_keys(self) -> tuple[str, ...]:
        return self._extra_keys

    @property
    def placeholders(self) -> tuple[str, ...]:
        """Every ``{placeholder}`` of the system text, instruction and user template."""
        return self._keys[:len(self._keys) - len(self._extra_keys)]

    @property
    def keys(self) -> tuple[str, ...]:
        """What an input fills: the placeholders, then the extra keys."""
        return self._keys

    def __repr__(self) -> str:
        args = [repr(self._instruction)]
        if self._extra_keys:
            args.append(f'extra_keys={list(self._extra_keys)!r}')
        if self._configs['system']:
            args.append(f'system={self._configs["system"]!r}')
        return f'{type(self).__name__}({", ".join(args)})'

    # public entry points ---------------------------------------------------------------
    def generate_prompt(self, input: str | Mapping[str, Any] | None = None, history: Any = None,
                        tools: Any = None, label: str | None = None, *, show: bool = False,
                        format: str | None = None, return_dict: bool = False,
                        chat_template: Callable[..., str] | None = None):
        """Build the prompt of one call.

        By default (``format=None`` or ``'text'``) one str: the prompter's text layout plus
        ``label`` (the answer, for finetuning data), or ``chat_template(messages)`` when a
        chat template callable is given. ``format='openai'`` (or LazyLLM's
        ``return_dict=True``) returns ``{'messages': [...]}`` plus ``'tools'`` when there
        are tools. ``history`` follows the prompter's own; ``tools`` replace its own.
        ``show=True`` logs the result.
        """
        format = self._format(format, return_dict, label, chat_template)
        history = copy.deepcopy(list(self._history)) + normalize_history(
            history, 'the history passed to generate_prompt')
        tools = (normalize_tools(tools, 'the tools passed to generate_prompt')
                 if tools is not None else copy.deepcopy(list(self._tools)))
        parts = self._fill(input, history)
        self._check(parts)
        if format == 'openai':
            result: Any = {'messages': self._messages(parts), **({'tools': tools} if tools else {})}
        elif chat_template is not None:
            result = chat_template(self._messages(parts), **({'tools': tools} if tools else {}))
            if not isinstance(result, str):
                raise InputError(f'chat_template returned a {type(result).__name__}: it must '
                                 'return the prompt as a str (e.g. apply_chat_template with '
                                 'tokenize=False)')
            result += label or ''
        else:
            result = self._render_text(parts, tools) + (label or '')
        if show or self._show:
            get_logger().info('prompt: %r', result)
        return result

    def get_response(self, output: str, input: str | None = None) -> str:
        """The answer in a model's raw output: without the echoed ``input`` when the output
        starts with it, else what follows the last answer cue of the text layout."""
        if not isinstance(output, str):
            raise InputError(f'get_response takes the model output as a str, got '
                             f'{type(output).__name__}')
        if input and output.startswith(input):
            return output[len(input):]
        cue = self._answer_cue()
        return output.split(cue)[-1] if cue else output

    # building --------------------------------------------------------------------------
    @staticmethod
    def _format(format: Any, return_dict: Any, label: Any, chat_template: Any) -> str | None:
        if format not in FORMATS:
            raise InputError(f'format={format!r} is not supported: use one of {FORMATS}')
        if not isinstance(return_dict, bool):
            raise InputError(f'return_dict={return_dict!r}: pass True or False')
        if return_dict:
            if format == 'text':
                raise InputError("return_dict=True asks for messages but format='text' for a "
                                 "str: pass only one (format='openai' is return_dict=True)")
            format = 'openai'
        if label is not None and (not isinstance(label, str) or format == 'openai'):
            raise InputError('label is the answer str appended to a text prompt (finetuning '
                             "data); with format='openai' add it as an assistant message to "
                             'the history instead')
        if chat_template is not None and (format == 'openai' or not callable(chat_template)):
            raise InputError('chat_template must be a callable messages -> str and is only used '
                             "with format=None or 'text': drop it or change the format")
        return format

    def _route(self, input: Any) -> tuple[dict, Any]:
        """Split the input into key values and the user's input (None: no user turn)."""
        keys = self._keys
        if input is None:
            self._require({}, input, [])
            return {}, None
        if isinstance(input, (str, int)) and not isinstance(input, bool):
            text = str(input)
            if len(keys) == 1:
                return {keys[0]: text}, ''
            if not keys:
                return {}, text
            marks = ', '.join('{' + k + '}' for k in keys)
            raise PromptError(f'a str input fills the only key of a prompter, but this one has '
                              f'{len(keys)} ({marks}): pass a dict input with keys '
                              f'{_quote(keys)}')
        if not isinstance(input, Mapping):
            raise PromptError(f'input is a {type(input).__name__}: pass a str, or a dict of '
                              'values for the keys ' + (_quote(keys) or "(this prompter has "
                                                        "none: pass {'input': ...})"))
        others = [k for k in input if k not in keys]
        self._require(input, input, others)
        if len(others) > 1:
            raise PromptError(f'input dict has keys {_quote(others)} that fill no placeholder or '
                              'extra key; only one such key may be given (its value is the '
                              'user input): fix the key names, or add them to the instruction '
                              'or extra_keys')
        values = {k: to_text(input[k]) for k in keys}
        rest = input[others[0]] if others else ''
        if isinstance(rest, (list, tuple)):
            return values, check_content(rest, f'the input dict value {others[0]!r}')
        return values, to_text('' if rest is None else rest)

    def _require(self, values: Mapping, input: Any, others: list) -> None:
        """Every key needs a value: name the missing ones, where they are and the fix."""
        for where, template in self._templates.items():
            missing = [n for n in template.names if n not in values]
            if missing:
                raise PromptError(self._missing_message(missing, where, input, others))
        absent = [k for k in self._extra_keys if k not in values]
        if absent:
            hint = f" (the dict's other keys: {_quote(others)})" if others else ''
            raise PromptError(f'extra key(s) {_quote(absent)} have no value{hint}: pass a dict '
                              f'input with key(s) {_quote(absent)}, or drop them from extra_keys')

    @staticmethod
    def _missing_message(missing: list[str], where: str, input: Any, others: list) -> str:
        one = len(missing) == 1
        marks = ', '.join('{' + n + '}' for n in missing)
        keys = ('key ' if one else 'keys ') + _quote(missing)
        hint = f" (the dict's other keys: {_quote(others)})" if others else ''
        fix = (f'add {keys} to the input dict' if isinstance(input, Mapping)
               else f'pass a dict input with {keys}')
        return (f"placeholder{'' if one else 's'} {marks} in {where} "
                f"{'has' if one else 'have'} no value{hint}: {fix}, or remove {marks} from "
                f'{where} (write {{{{{missing[0]}}}}} for literal braces)')

    def _fill(self, input: Any, history: list) -> Parts:
        values, rest = self._route(input)
        filled = {w: t.fill(values) for w, t in self._templates.items()}
        instruction = self._instruction_block(filled[self._where_main],
                                              extra_text(self._extra_keys, values))
        return Parts(filled['the system text'], instruction, filled["instruction['user']"],
                     rest, history)

    def _check(self, parts: Parts) -> None:
        """A subclass refuses what its layout cannot hold (Alpaca: history, a loose input)."""

    def _user_content(self, parts: Parts) -> Any:
        """The user message's content: the user template then the input; None: no turn."""
        if parts.input is None and not parts.user:
            return None
        if isinstance(parts.input, list):
            head = [{'type': 'text', 'text': parts.user}] if parts.user else []
            return head + parts.input
        return parts.user + (parts.input or '')

    def _user_text(self, parts: Parts) -> str:
        content = self._user_content(parts)
        return '' if content is None else content_text({'role': 'user', 'content': content})

    def _messages(self, parts: Parts) -> list[dict]:
        system = '\n'.join(x for x in (parts.system, parts.instruction) if x)
        head = [{'role': 'system', 'content': system}] if system else []
        user = self._user_content(parts)
        return head + parts.history + ([] if user is None else [{'role': 'user', 'content': user}])

    # layout: defined by each prompter --------------------------------------------------
    def _instruction_block(self, instruction: str, extras: str) -> str:
        raise NotImplementedError

    def _render_text(self, parts: Parts, tools: list[dict]) -> str:
        raise NotImplementedError

    def _answer_cue(self) -> str:
        raise NotImplementedError
