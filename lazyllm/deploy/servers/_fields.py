"""Every field of OpenAI's Chat Completions and Completions requests, and what the built-in
LLM engine does with it: honoured, accepted as information, or refused with a 400 naming it.

A field no table lists is refused as OpenAI refuses it ("Unrecognized request argument"), so
nothing a client sends is silently ignored. ``tests/deploy/test_openai_fields.py`` reads the
fields from the installed ``openai`` package: a field a new SDK adds fails that test until a
table here says what happens to it.
"""
from __future__ import annotations

from typing import Any

from ._app import ApiError

# implemented by the engine (sampling, budgets, streams, tools, structured output)
CHAT_HONOURED = frozenset({
    'messages', 'model', 'stream', 'stream_options', 'temperature', 'top_p', 'max_tokens',
    'max_completion_tokens', 'stop', 'seed', 'presence_penalty', 'frequency_penalty',
    'logit_bias', 'response_format', 'tools', 'tool_choice', 'parallel_tool_calls',
    # extensions that vLLM takes too
    'top_k', 'min_p', 'repetition_penalty'})
COMPLETION_HONOURED = frozenset({
    'prompt', 'model', 'stream', 'stream_options', 'temperature', 'top_p', 'max_tokens',
    'stop', 'seed', 'presence_penalty', 'frequency_penalty', 'logit_bias',
    'top_k', 'min_p', 'repetition_penalty'})
# identifiers for the caller's own bookkeeping: checked for type, nothing to do with them
INFORMATIONAL = {'user': str, 'safety_identifier': str, 'prompt_cache_key': str,
                 'metadata': dict}
# field -> (values that mean "not used", why a used value is refused)
REFUSED: dict[str, tuple[tuple, str]] = {
    'n': ((1,), 'one choice per request: send n requests (they are batched together)'),
    'best_of': ((1,), 'one choice per request: send several requests'),
    'logprobs': ((False,), 'log probabilities are not computed: deploy with vLLM for them'),
    'top_logprobs': ((0,), 'log probabilities are not computed: deploy with vLLM for them'),
    'echo': ((False,), 'the prompt is not echoed: prepend it yourself'),
    'suffix': (('',), 'insertion (suffix) is not supported: send the text before it only'),
    'audio': ((), 'this engine answers in text only'),
    'modalities': ((['text'],), 'this engine answers in text only: modalities=["text"]'),
    'prediction': ((), 'predicted outputs are not supported: omit prediction'),
    'web_search_options': ((), 'this engine has no web search'),
    'functions': ((), 'the legacy functions field is not supported: use tools'),
    'function_call': ((), 'the legacy function_call field is not supported: use tool_choice'),
    'reasoning_effort': ((), 'this engine has no reasoning-effort control: omit it'),
    'verbosity': ((), 'this engine has no verbosity control: omit it'),
    'service_tier': (('auto', 'default'), 'one service tier only: omit it or send "auto"'),
    'store': ((False,), 'completions are not stored: omit store or send false'),
    'moderation': ((), 'this engine runs no moderation: omit it'),
    'prompt_cache_retention': ((), 'the prompt cache is not kept across requests: omit it'),
    'prompt_cache_options': ((), 'the prompt cache is not kept across requests: omit it'),
}

SEED_RANGE = (-2**63, 2**64 - 1)     # what torch.Generator.manual_seed takes
GREEDY_BELOW = 1e-5                   # temperatures under this decode greedily (as vLLM)


def check_fields(body: dict, honoured: frozenset, route: str,
                 refused: dict | None = None) -> None:
    """Refuse unknown fields and used ``refused`` fields (default: the chat and completions
    ones) with a 400 naming the field."""
    refused = REFUSED if refused is None else refused
    for key, value in body.items():
        if key in honoured or (value is None and (key in INFORMATIONAL or key in refused)):
            continue
        if key in INFORMATIONAL:
            if not isinstance(value, INFORMATIONAL[key]):
                raise invalid(key, f'must be a {INFORMATIONAL[key].__name__}', value)
            if key == 'metadata' and not all(isinstance(v, str) for v in value.values()):
                raise invalid(key, 'must map strings to strings', value)
            continue
        if key in refused:
            neutral, why = refused[key]
            if not any(value == v and type(value) is type(v) for v in neutral):
                raise ApiError(400, f'{key}={_short(value)} is not supported by the lazyllm '
                                    f'transformers engine: {why}', param=key,
                               code='unsupported_parameter')
            continue
        raise ApiError(400, f'Unrecognized request argument supplied: {key} ({route} takes '
                            f'{", ".join(sorted(honoured | set(INFORMATIONAL)))})',
                       param=key, code='unknown_parameter')


def invalid(key: str, rule: str, value: Any) -> ApiError:
    return ApiError(400, f'{key} {rule}, got {_short(value)}', param=key, code='invalid_value')


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + '...'


def number(body: dict, key: str, default: Any, lo: float, hi: float,
           kind: type = float) -> Any:
    """``body[key]`` checked for type and range (``default`` when absent or null)."""
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or \
            (kind is int and isinstance(value, float) and not value.is_integer()):
        raise invalid(key, f'must be {"an int" if kind is int else "a number"}', value)
    if not lo <= value <= hi:
        raise invalid(key, f'must be from {lo:g} to {hi:g}', value)
    return kind(value)


def boolean(body: dict, key: str, default: bool) -> bool:
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise invalid(key, 'must be true or false', value)
    return value


def seed_of(body: dict) -> int | None:
    seed = body.get('seed')
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise invalid('seed', 'must be an int', seed)
    if not SEED_RANGE[0] <= seed <= SEED_RANGE[1]:
        raise invalid('seed', f'must be from {SEED_RANGE[0]} to {SEED_RANGE[1]}', seed)
    return seed


def logit_bias_of(body: dict, vocab: int) -> dict[int, float]:
    bias = body.get('logit_bias')
    if bias is None:
        return {}
    if not isinstance(bias, dict) or len(bias) > 300:
        raise invalid('logit_bias', 'must be an object of at most 300 "token id": bias pairs',
                      bias)
    out = {}
    for k, v in bias.items():
        if not (isinstance(k, str) and k.isascii() and k.isdigit() and int(k) < vocab):
            raise invalid('logit_bias', f'keys must be token ids from 0 to {vocab - 1}', k)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not -100 <= v <= 100:
            raise invalid('logit_bias', 'values must be numbers from -100 to 100', v)
        out[int(k)] = float(v)
    return out


def stops_of(body: dict) -> list[str]:
    stop = body.get('stop')
    if stop is None:
        return []
    stops = [stop] if isinstance(stop, str) else stop
    if not isinstance(stops, list) or not 0 < len(stops) <= 16 or \
            not all(isinstance(s, str) and s for s in stops):
        raise invalid('stop', 'must be a non-empty string or a list of 1 to 16 of them', stop)
    return stops


def stream_of(body: dict) -> tuple[bool, bool]:
    """(stream, include_usage). ``stream_options`` only goes with ``stream: true``."""
    stream = boolean(body, 'stream', False)
    options = body.get('stream_options')
    if options is None:
        return stream, False
    if not isinstance(options, dict):
        raise invalid('stream_options', 'must be an object like {"include_usage": true}',
                      options)
    if not stream:
        raise ApiError(400, 'stream_options is only allowed when stream is true',
                       param='stream_options', code='invalid_value')
    unknown = set(options) - {'include_usage', 'include_obfuscation'}
    if unknown:
        raise invalid('stream_options', 'takes include_usage (and include_obfuscation: false)',
                      options)
    if boolean(options, 'include_obfuscation', False):
        raise ApiError(400, 'stream_options.include_obfuscation is not supported: the engine '
                            'sends no obfuscation padding', param='stream_options',
                       code='unsupported_parameter')
    return stream, boolean(options, 'include_usage', False)


def max_tokens_of(body: dict, prompt_len: int, context: int, default: int) -> int:
    """The token budget; a prompt that does not fit the context is an error with numbers."""
    room = context - prompt_len
    if room <= 0:
        raise ApiError(400, f'the prompt has {prompt_len} tokens but the model\'s context is '
                            f'{context} tokens: shorten the prompt or the history',
                       param='messages', code='context_length_exceeded')
    values = {k: body[k] for k in ('max_completion_tokens', 'max_tokens')
              if body.get(k) is not None}
    for key, asked in values.items():
        if isinstance(asked, bool) or not isinstance(asked, int) or asked < 1:
            raise invalid(key, 'must be a positive int', asked)
    if len(set(values.values())) > 1:
        raise ApiError(400, 'max_tokens and max_completion_tokens differ: send one of them',
                       param='max_tokens', code='invalid_value')
    if not values:
        return min(default, room)
    key, asked = next(iter(values.items()))
    if asked > room:
        raise ApiError(400, f'{key}={asked} plus the prompt\'s {prompt_len} tokens is '
                            f'more than the model\'s context of {context} tokens: ask for at '
                            f'most {room} tokens or shorten the prompt', param=key,
                       code='context_length_exceeded')
    return asked
