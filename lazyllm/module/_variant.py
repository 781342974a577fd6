"""Published variants: a ``share()`` of a deployment stored as data, applied by any process.

    base = lazyllm.TrainableModule(path).start(name='smol', detach=True)
    base.share(prompt='You are a concise geography teacher.', temperature=0).publish('smol:geo')

A share lives in the Python process that made it. Publishing writes what makes it a share --
the prompter (its kind, instruction, extra keys, system text, history and tools), the view's
history, its sampling defaults, its LoRA adapter and a formatter that can be described as
data (the built-in ones with their expression) -- to the registry under a model name. The
gateway (``lazyllm serve``) then answers that name by building the request exactly as the
share builds it: the same ``llm_request`` over the same prompter, the same ``json_mode``, the
same formatter on the whole answer. What cannot be stored as data (a prompter subclass of
your own, a lambda formatter, a Python function as a tool) is refused at ``publish()`` with
the reason, never stored half.

Over OpenAI's API a chat names the variant as its ``model``: its last message is the share's
input (the user's turn, or the results of tools), the messages before it the call's history,
and ``prompt_variables`` (a JSON object) fills the prompter's other placeholders and extra
keys, as a dict input would.
"""
from __future__ import annotations

import json
from typing import Any

from ..errors import InputError
from ..formatter import (
    EmptyFormatter,
    JsonFormatter,
    JsonLikeFormatter,
    PythonFormatter,
    YamlFormatter,
)
from ..prompt import AlpacaPrompter, ChatPrompter, EmptyPrompter
from ._calls import json_mode, llm_request

__all__ = ['Variant', 'describe']

_PROMPTERS = {c.__name__: c for c in (ChatPrompter, AlpacaPrompter, EmptyPrompter)}
_FORMATTERS = {c.__name__: c for c in (EmptyFormatter, JsonLikeFormatter, PythonFormatter,
                                       JsonFormatter, YamlFormatter)}
_REQUEST_ONLY = ('model', 'messages', 'prompt_variables')


def describe(view: Any) -> dict:
    """The spec of a chat share: JSON data that ``Variant`` turns back into the same calls."""
    spec: dict[str, Any] = {'prompt': _prompter_spec(view._prompter),
                            'history': list(view._history), 'sampling': dict(view._sampling)}
    if getattr(view, '_adapter', None):
        spec['adapter'] = view._adapter
    if view._formatter is not None:
        spec['format'] = _formatter_spec(view._formatter)
    try:
        json.dumps(spec)
    except (TypeError, ValueError) as e:
        raise InputError(f'this share cannot be published: its history or sampling holds '
                         f'something that is not JSON data ({e}); a published variant is '
                         'stored as data. Give tools as OpenAI tool dicts.') from None
    return spec


def _prompter_spec(prompter: Any) -> dict:
    kind = type(prompter).__name__
    if _PROMPTERS.get(kind) is not type(prompter):
        raise InputError(f'this share cannot be published: its prompter is a {kind}, and only '
                         f'{", ".join(_PROMPTERS)} can be stored as data. Publish a share '
                         'whose prompt is a str, a dict or one of those prompters.')
    if kind == 'EmptyPrompter':
        return {'kind': kind}
    return {'kind': kind, 'instruction': prompter.instruction,
            'extra_keys': list(prompter.extra_keys), 'system': prompter._configs['system'],
            'history': list(prompter._history), 'tools': list(prompter._tools)}


def _formatter_spec(formatter: Any) -> dict:
    kind = type(formatter).__name__
    if _FORMATTERS.get(kind) is not type(formatter):
        raise InputError(f'this share cannot be published: its formatter '
                         f'{getattr(formatter, "__name__", kind)} is code, and a published '
                         f'variant is data. Use one of {", ".join(_FORMATTERS)} (with a '
                         'selection expression), or publish without format=.')
    return {'kind': kind, 'expr': getattr(formatter, '_expr', None)}


class Variant:
    """A published variant, ready to turn an OpenAI chat body into the share's request.

    ``target``: the model the engine is asked for (the adapter, else the deployment ``base``).
    ``streams``: False when a formatter must see the whole answer."""

    def __init__(self, name: str, base: str, spec: dict):
        self.name, self.base = name, base
        prompt = dict(spec.get('prompt') or {'kind': 'ChatPrompter'})
        kind = prompt.pop('kind')
        self.prompter = (EmptyPrompter() if kind == 'EmptyPrompter' else
                         _PROMPTERS[kind](prompt.pop('instruction', None), **prompt))
        self.history = list(spec.get('history') or [])
        self.sampling = dict(spec.get('sampling') or {})
        self.target = spec.get('adapter') or base
        shape = spec.get('format')
        self.formatter = _FORMATTERS[shape['kind']](*(
            [] if shape['kind'] == 'EmptyFormatter' else [shape['expr']])) if shape else None
        self.streams = self.formatter is None

    def chat_body(self, body: dict) -> dict:
        """The body the engine gets for a chat ``body`` naming this variant; InputError
        (the client's 400) for one the share would refuse."""
        messages = body.get('messages')
        if not isinstance(messages, list) or not messages or \
                not all(isinstance(m, dict) for m in messages):
            raise InputError('"messages" must be a non-empty list of message objects.')
        variables = body.get('prompt_variables', {})
        if not isinstance(variables, dict):
            raise InputError('"prompt_variables" must be a JSON object of the prompt\'s keys.')
        last = messages[-1]
        if last.get('role') == 'tool':          # continue after the tools' results
            input, history = None, messages
        elif last.get('role') == 'user':
            text = _text(last.get('content'))
            input, history = ({**variables, 'input': text} if variables else text), messages[:-1]
        else:
            raise InputError(f'the last message is the {last.get("role")!r} turn: a variant '
                             'answers a user turn (or the results of tools) last.')
        call = {k: v for k, v in body.items() if k not in _REQUEST_ONLY}
        params = json_mode({**self.sampling, **call}, self.formatter)
        sent, params = llm_request(self.prompter, input, self.history + history, params)
        return {**params, 'model': self.target, 'messages': sent}

    def shape(self, answer: dict) -> dict:
        """The engine's whole answer with the formatter applied to each choice's text, as the
        share applies it; a value that is not text is sent as its JSON."""
        if self.formatter is None:
            return answer
        for choice in answer.get('choices') or ():
            message = choice.get('message') or {}
            if isinstance(message.get('content'), str) and not message.get('tool_calls'):
                value = self.formatter(message['content'])
                message['content'] = value if isinstance(value, str) else \
                    json.dumps(value, ensure_ascii=False)
        return answer


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(p, dict) and p.get('type') == 'text'
                                         for p in content):
        return ''.join(str(p.get('text', '')) for p in content)
    raise InputError('a variant takes the user\'s turn as text (a str or text parts); send '
                     'images to the deployment itself.')
