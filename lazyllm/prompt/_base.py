"""PrompterBase: what every prompter shares.

A prompter turns a call's input (a str or a dict of values) into OpenAI chat messages or one
plain string. Everything that can be checked is checked at construction, so a prompter that
was built will not fail later for a reason its author could have seen; after that it is
immutable, which makes sharing one prompter between threads and module shares safe.

Where the input goes (the same rules for every prompter):

* a str input fills ``{input}`` if a template has it, else it is the user message;
* a dict input fills placeholders by key; its ``'input'`` key is the user message unless a
  template has ``{input}``; ``extra_keys`` values are appended to the system text as
  ``### key:\\nvalue`` sections, in the order given; any other key is an error (a typo);
* with a user template (``instruction={'user': ...}``) the user message is that template
  filled, so it must hold ``{input}`` if an input text is given.
"""
from __future__ import annotations

import copy
from typing import Any, Callable, Mapping, NamedTuple, Sequence

from ..errors import InputError, PromptError
from ._messages import check_content, normalize_history, normalize_tools
from ._template import Template, to_text

FORMATS = ('openai', 'text', None)


class Parts(NamedTuple):
    """One call's filled pieces, before they are laid out as messages or text."""
    preamble: str           # the filled ``system=`` text
    instruction: str        # the filled instruction plus the extra-key sections
    history: list           # message dicts: the prompter's history, then the call's
    user: Any               # user content (str or list of parts), None when there is none


def _quote(names: Sequence[str]) -> str:
    return ', '.join(repr(n) for n in names)


def _split_instruction(name: str, instruction: Any) -> dict[str, Any]:
    """Map where-names used in messages ("the instruction") to the instruction's texts."""
    if instruction is None or isinstance(instruction, str):
        return {'the instruction': instruction}
    if not isinstance(instruction, Mapping):
        raise InputError(f'{name} instruction is a {type(instruction).__name__}: pass a str '
                         "or a dict {'system': ..., 'user': ...}")
    bad = [k for k in instruction if k not in ('system', 'user')]
    if bad:
        raise InputError(f'{name} instruction dict has key(s) {_quote(bad)}: use only '
                         "'system' (the system text) and 'user' (the user template)")
    return {f"instruction['{k}']": instruction.get(k) for k in ('system', 'user')}


class PrompterBase:
    """Shared construction, validation and input routing. Subclasses define the text layout
    in ``_render_text(parts)``."""

    def __init__(self, instruction: str | Mapping[str, str] | None = None,
                 extra_keys: Sequence[str] | None = None, *, history: Any = None,
                 tools: Any = None, system: str | None = None):
        name = type(self).__name__
        texts = _split_instruction(name, instruction)
        texts['the system text'] = system
        for where, text in texts.items():
            if text is not None and not isinstance(text, str):
                raise InputError(f'{name}: {where} is a {type(text).__name__}: pass a str')
        extra_keys = () if extra_keys is None else extra_keys
        if (isinstance(extra_keys, str) or not isinstance(extra_keys, Sequence)
                or not all(isinstance(k, str) and k for k in extra_keys)):
            raise InputError(f'{name} extra_keys={extra_keys!r}: pass a list of non-empty str, '
                             "e.g. extra_keys=['context']")
        templates = {w: Template(t, w) for w, t in texts.items() if t is not None}
        preamble = templates.pop('the system text', None)
        user = templates.pop("instruction['user']", None)
        main = next(iter(templates.values()), None)        # the instruction's system text
        templates = tuple(t for t in (preamble, main, user) if t)
        names = tuple(dict.fromkeys(n for t in templates for n in t.names))
        clash = [k for k in extra_keys if k in names or k == 'input']
        if clash or len(set(extra_keys)) != len(extra_keys):
            raise InputError(f'{name} extra_keys={list(extra_keys)!r} repeat a placeholder, '
                             "'input' or each other: list each extra key once and do not also "
                             'use it as a {placeholder}')
        own = f'the history given to {name}()'
        self._set(
            _instruction=dict(instruction) if isinstance(instruction, Mapping) else instruction,
            _system=system, _names=names, _extra_keys=tuple(extra_keys), _templates=templates,
            _preamble=preamble, _main=main, _user=user,
            _history=tuple(normalize_history(history, own)),
            _tools=tuple(normalize_tools(tools, f'the tools given to {name}()')))

    # immutability ------------------------------------------------------------------------
    def _set(self, **attrs: Any) -> None:
        for key, value in attrs.items():
            object.__setattr__(self, key, value)

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError(f'{type(self).__name__} is immutable: build a new prompter '
                             f'instead of setting {key!r}')

    def __delattr__(self, key: str) -> None:
        self.__setattr__(key, None)

    @property
    def instruction(self) -> str | dict | None:
        return dict(self._instruction) if isinstance(self._instruction, dict) else self._instruction

    @property
    def extra_keys(self) -> tuple[str, ...]:
        return self._extra_keys

    @property
    def placeholders(self) -> tuple[str, ...]:
        """Names of every ``{placeholder}`` in the system text, instruction and user template."""
        return self._names

    def __repr__(self) -> str:
        args = [repr(self._instruction)]
        if self._extra_keys:
            args.append(f'extra_keys={list(self._extra_keys)!r}')
        if self._system is not None:
            args.append(f'system={self._system!r}')
        return f'{type(self).__name__}({", ".join(args)})'

    # public entry point ------------------------------------------------------------------
    def generate_prompt(self, input: str | Mapping[str, Any] | None = None, history: Any = None,
                        tools: Any = None, *, format: str | None = 'openai',
                        chat_template: Callable[..., str] | None = None):
        """Build the prompt of one call.

        ``format='openai'`` returns ``{'messages': [...]}`` plus ``'tools'`` when there are
        tools (merged into a request body by the model layer). ``format=None`` or ``'text'``
        returns one str for raw-completion models: the prompter's text layout, or
        ``chat_template(messages)`` (``chat_template(messages, tools=tools)`` when there are
        tools) when a chat template callable is given. ``tools`` given here replace the
        prompter's tools; ``history`` given here follows the prompter's history.
        """
        if format not in FORMATS:
            raise InputError(f'format={format!r} is not supported: use one of {FORMATS}')
        if chat_template is not None and (format == 'openai' or not callable(chat_template)):
            raise InputError('chat_template must be a callable messages -> str and is only used '
                             "with format=None or 'text': drop it or change the format")
        history = copy.deepcopy(list(self._history)) + normalize_history(
            history, 'the history passed to generate_prompt')
        parts = self._fill(input, history)
        tools = (normalize_tools(tools, 'the tools passed to generate_prompt')
                 if tools is not None else copy.deepcopy(list(self._tools)))
        if format == 'openai':
            return {'messages': self._messages(parts), **({'tools': tools} if tools else {})}
        if chat_template is not None:
            args = {'tools': tools} if tools else {}
            text = chat_template(self._messages(parts), **args)
            if not isinstance(text, str):
                raise InputError(f'chat_template returned a {type(text).__name__}: it must '
                                 'return the prompt as a str (e.g. apply_chat_template with '
                                 'tokenize=False)')
            return text
        if tools:
            raise PromptError("the text layout cannot show tools: use format='openai', pass a "
                              'chat_template that accepts tools=, or drop the tools')
        return self._render_text(parts)

    # building ----------------------------------------------------------------------------
    def _route(self, input: Any) -> tuple[dict, Any]:
        """Split the input into placeholder values and the text left for the user message."""
        if input is None or isinstance(input, str):
            if 'input' in self._names:
                return {'input': input or ''}, None
            return {}, input or None
        if not isinstance(input, Mapping):
            raise PromptError(f'input is a {type(input).__name__}: pass a str, or a dict of '
                              'placeholder values')
        known = set(self._names) | set(self._extra_keys) | {'input'}
        unknown = [k for k in input if k not in known]
        if unknown:
            raise PromptError(f'input dict has unknown key(s) {_quote(unknown)}: the accepted '
                              f'keys are {_quote(sorted(known))} (placeholders, extra_keys and '
                              "'input'); fix the key name or add it to the prompter")
        values = dict(input)
        rest = None if 'input' in self._names else values.pop('input', None)
        if isinstance(rest, (list, tuple)):
            return values, check_content(rest, "the input dict's 'input'")
        return values, (None if rest is None else to_text(rest) or None)

    def _fill(self, input: Any, history: list) -> Parts:
        values, rest = self._route(input)
        for template in self._templates:
            missing = [n for n in template.names if n not in values]
            if missing:
                raise PromptError(self._missing_message(missing, template.where, input))
        absent = [k for k in self._extra_keys if k not in values]
        if absent:
            raise PromptError(f'extra key(s) {_quote(absent)} have no value: pass a dict input '
                              f'with key(s) {_quote(absent)}, or drop them from extra_keys')
        sections = [self._main.fill(values) if self._main else '']
        sections += [f'### {k}:\n{to_text(values[k])}' for k in self._extra_keys]
        instruction = '\n\n'.join(s for s in sections if s)
        user = rest
        if self._user is not None:
            if rest is not None:
                raise PromptError(f'the input text has no place: {self._user.where} has no '
                                  '{input}; add {input} where the input should go')
            user = self._user.fill(values) or None
        preamble = self._preamble.fill(values) if self._preamble else ''
        return Parts(preamble, instruction, history, user)

    @staticmethod
    def _missing_message(missing: list[str], where: str, input: Any) -> str:
        one = len(missing) == 1
        marks = ', '.join('{' + n + '}' for n in missing)
        keys = ('key ' if one else 'keys ') + _quote(missing)
        fix = (f'add {keys} to the input dict' if isinstance(input, Mapping)
               else f'pass a dict input with {keys} instead of a str')
        return (f"placeholder{'' if one else 's'} {marks} in {where} "
                f"{'has' if one else 'have'} no value: {fix}, or remove {marks} from {where} "
                f"(write {{{{{missing[0]}}}}} for literal braces)")

    def _system_text(self, parts: Parts) -> str:
        return '\n\n'.join(x for x in (parts.preamble, parts.instruction) if x)

    @staticmethod
    def _turns(parts: Parts) -> list[dict]:
        user = [] if parts.user is None else [{'role': 'user', 'content': parts.user}]
        return parts.history + user

    def _messages(self, parts: Parts) -> list[dict]:
        system = self._system_text(parts)
        head = [{'role': 'system', 'content': system}] if system else []
        return head + self._turns(parts)

    def _render_text(self, parts: Parts) -> str:
        raise NotImplementedError
