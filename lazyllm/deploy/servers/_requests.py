"""Validation of OpenAI chat/completions request bodies for the built-in LLM engine.

Bad fields become 400 errors that name the field and the fix; fields the engine does not
implement (n > 1, logprobs, …) are refused rather than silently ignored.
"""
from __future__ import annotations

from typing import Any

from ._app import ApiError
from ._sampling import Sampling

_UNSUPPORTED = {'n': 1, 'logprobs': False, 'top_logprobs': None, 'best_of': 1, 'echo': False,
                'suffix': None}


def _number(body: dict, key: str, default: float, lo: float, hi: float,
            kind: type = float) -> Any:
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            (kind is int and not float(value).is_integer()):
        raise ApiError(400, f'{key} must be a {kind.__name__}, got {value!r}')
    if not lo <= value <= hi:
        raise ApiError(400, f'{key} must be between {lo} and {hi}, got {value}')
    return kind(value)


def sampling_of(body: dict) -> Sampling:
    for key, ok in _UNSUPPORTED.items():
        if body.get(key) not in (None, ok):
            raise ApiError(400, f'{key}={body[key]!r} is not supported by the lazyllm '
                                f'transformers engine; omit it or deploy with vLLM')
    seed = body.get('seed')
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ApiError(400, f'seed must be an int, got {seed!r}')
    return Sampling(
        temperature=_number(body, 'temperature', 1.0, 0.0, 2.0),
        top_p=_number(body, 'top_p', 1.0, 0.0, 1.0) or 1.0,
        top_k=max(0, _number(body, 'top_k', 0, -1, 1e9, int)),
        repetition_penalty=_number(body, 'repetition_penalty', 1.0, 0.01, 10.0),
        seed=seed)


def stops_of(body: dict) -> list[str]:
    stop = body.get('stop')
    if stop is None:
        return []
    stops = [stop] if isinstance(stop, str) else stop
    if not isinstance(stops, list) or not all(isinstance(s, str) and s for s in stops):
        raise ApiError(400, 'stop must be a non-empty string or a list of them')
    return stops


def max_tokens_of(body: dict, prompt_len: int, context: int, default: int) -> int:
    """The token budget; a prompt that does not fit the context is an error with numbers."""
    room = context - prompt_len
    if room <= 0:
        raise ApiError(400, f'the prompt has {prompt_len} tokens but the model\'s context is '
                            f'{context} tokens: shorten the prompt or the history')
    asked = body.get('max_completion_tokens', body.get('max_tokens'))
    if asked is None:
        return min(default, room)
    if isinstance(asked, bool) or not isinstance(asked, int) or asked < 1:
        raise ApiError(400, f'max_tokens must be a positive int, got {asked!r}')
    if asked > room:
        raise ApiError(400, f'max_tokens={asked} plus the prompt\'s {prompt_len} tokens is '
                            f'more than the model\'s context of {context} tokens: ask for at '
                            f'most {room} tokens or shorten the prompt')
    return asked


def messages_of(body: dict) -> list[dict]:
    messages = body.get('messages')
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, 'messages must be a non-empty list of {"role", "content"} objects')
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get('role') not in ('system', 'user', 'assistant',
                                                              'tool', 'developer'):
            raise ApiError(400, f'messages[{i}] needs a role of system, user, assistant or tool')
        content = m.get('content')
        if isinstance(content, list):   # text parts only: this engine reads text
            if any(p.get('type') != 'text' for p in content if isinstance(p, dict)):
                raise ApiError(400, f'messages[{i}] has non-text parts; this engine serves '
                                    'text models only')
            m = {**m, 'content': ''.join(p.get('text', '') for p in content)}
            messages[i] = m
        elif content is not None and not isinstance(content, str):
            raise ApiError(400, f'messages[{i}].content must be a string or a list of parts')
    return messages


def prompts_of(body: dict) -> list[str]:
    prompt = body.get('prompt')
    prompts = [prompt] if isinstance(prompt, str) else prompt
    if not isinstance(prompts, list) or not prompts or \
            not all(isinstance(p, str) for p in prompts):
        raise ApiError(400, 'prompt must be a string or a non-empty list of strings')
    return prompts
