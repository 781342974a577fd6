"""What one call of a model module sends and returns, per model type.

Pure request/response shaping around the client, shared by the sync and async paths: each
function validates the input (bad input is an InputError before anything is sent), calls
the client, and shapes the answer. With an AsyncClient the result is a coroutine.
"""
from __future__ import annotations

import copy
from typing import Any, Callable

from ..errors import InputError
from ..prompt import ChatPrompter, EmptyPrompter, Prompter, PrompterBase

__all__ = ['as_prompter', 'default_prompter', 'check_sampling', 'share_view', 'llm_request',
           'embed_texts', 'rerank_args', 'rerank_pairs', 'embed_call', 'rerank_call', 'json_mode',
           'answer_of']

def then(value: Any, shape: Callable[[Any], Any]) -> Any:
    """``shape(value)``, or, when ``value`` is awaitable (an AsyncClient call), an awaitable
    of it: one call builder serves the sync and the async client."""
    if hasattr(value, '__await__'):   # an AsyncClient call
        async def later() -> Any:
            return shape(await value)
        return later()
    return shape(value)


def default_prompter() -> PrompterBase:
    """The prompter of a chat module built without ``prompt=``: a ChatPrompter with no
    instruction, as in LazyLLM (but with no system prompt of its own), so the input is the
    user message and a dict input's one key is its text."""
    return ChatPrompter()


def as_prompter(prompt: Any, history: Any = None) -> PrompterBase:
    """What ``module.prompt(prompt, history)`` sets, with LazyLLM's meaning: ``None`` is an
    EmptyPrompter (no system text, the input passed through as the user message); a str or
    dict is ``ChatPrompter(prompt, history=history)``; a prompter is used as is."""
    if history is not None and not isinstance(prompt, (str, dict)):
        raise InputError('history= goes into a ChatPrompter built from a str or dict prompt: '
                         'pass prompt as a str or dict, or give your prompter the history '
                         '(ChatPrompter(..., history=[...]))')
    if prompt is None:
        return EmptyPrompter()
    if isinstance(prompt, PrompterBase):
        return prompt
    if isinstance(prompt, (str, dict)):
        return ChatPrompter(prompt, history=history)
    if isinstance(prompt, Prompter):
        raise InputError('lazyllm.Prompter builds one text string (finetuning data, raw '
                         'completion), not chat messages: give the module a ChatPrompter or '
                         'AlpacaPrompter, or a str/dict instruction')
    raise InputError(f'prompt must be None, a str, a dict or a prompter (ChatPrompter, '
                     f'AlpacaPrompter, EmptyPrompter), got {type(prompt).__name__}.')


def check_sampling(values: dict, allowed: frozenset, elsewhere: str = '') -> dict:
    """``values`` when every key is a sampling option the module takes; else an InputError
    that lists them (and says where other request fields go: ``elsewhere``)."""
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise InputError(f'unknown sampling option(s) {unknown}: use {sorted(allowed)}'
                         f'{elsewhere}.')
    return values


def share_view(module: Any, prompt: Any, format: Any, stream: Any, history: Any,
               sampling: dict) -> Any:
    """The view ``share()`` returns: a shallow copy with its own prompt, formatter, stream
    setting, history and sampling defaults (already checked), and no hooks."""
    view = copy.copy(module)
    view._hooks = ()
    if prompt is not None:
        view._prompter = as_prompter(prompt)
    if format is not None:
        view._formatter = format
    if stream is not None:
        view._stream = type(module._stream)(stream)
    view._history = list(history) if history is not None else list(module._history)
    view._sampling = {**module._sampling, **sampling}
    return view


def answer_of(result: Any) -> Any:
    """What calling a chat module returns: the answer's text, or, when the model called tools,
    the assistant message (``{'role': 'assistant', 'content', 'tool_calls'}``) ready to append
    to the history with the tools' results."""
    if result.tool_calls:
        return {'role': 'assistant', 'content': result.content or None,
                'tool_calls': result.tool_calls}
    return result.content


def json_mode(params: dict, formatter: Any) -> dict:
    """``params`` with ``response_format: json_object`` added when the module's formatter
    parses JSON (so even a small model answers in JSON, by constrained decoding) and the call
    does not shape its answer otherwise (tools, its own response_format). An explicit
    ``response_format=None`` opts out and is not sent."""
    from ..formatter import JsonFormatter
    if 'response_format' in params:
        if params['response_format'] is None:
            params = {k: v for k, v in params.items() if k != 'response_format'}
        return params
    if isinstance(formatter, JsonFormatter) and not params.get('tools'):
        return {**params, 'response_format': {'type': 'json_object'}}
    return params


def llm_request(prompter: PrompterBase, input: Any, history: list,
                params: dict) -> tuple[list, dict]:
    """OpenAI messages and request parameters for one LLM call: what ``prompter`` makes of
    ``input`` and ``history`` in ``format='openai'``."""
    after_tools = input is None and history and isinstance(history[-1], dict) and \
        history[-1].get('role') == 'tool'   # continue after tool results: no new user turn
    if not after_tools and (input is None or (isinstance(input, str) and not input.strip())):
        raise InputError('the prompt is empty: call the model with a non-empty str (or a dict '
                         "for a prompter with placeholders), e.g. llm('hello'); only a history "
                         'that ends with tool results may be sent without a new prompt.')
    if not after_tools and not isinstance(input, (str, dict)):
        raise InputError(f'an LLM takes a str or a dict, got {type(input).__name__}.')
    request = prompter.generate_prompt(
        input, history or None, params.pop('tools', None), format='openai')
    if request.get('tools'):
        params['tools'] = request['tools']
    return _trim_system(request['messages']), params


def _trim_system(messages: list[dict]) -> list[dict]:
    """``messages`` without the blank lines LazyLLM's layout ends an instruction with
    (``'You are a poet.\\n\\n'``): a model is sent the system text itself, so the same
    prompt gives the same answer whether it came from a str or a prompter."""
    if messages and messages[0]['role'] == 'system' and isinstance(messages[0]['content'], str):
        text = messages[0]['content'].rstrip('\n')
        return ([{**messages[0], 'content': text}] if text else []) + messages[1:]
    return messages


def embed_texts(input: Any) -> tuple[list[str], bool]:
    """The texts of an embedding call, and whether one str (one vector) was given."""
    single = isinstance(input, str)
    texts = [input] if single else input
    if not isinstance(texts, list) or not texts or \
            not all(isinstance(t, str) and t for t in texts):
        raise InputError('an embedding model takes a non-empty str or a non-empty list of '
                         f'non-empty str, got {type(input).__name__}: {str(input)[:80]!r}.')
    return texts, single


def rerank_args(query: Any, documents: Any, top_n: Any) -> None:
    """Check the arguments of a rerank call: rr(query, documents=[...], top_n=None)."""
    if not isinstance(query, str) or not query.strip():
        raise InputError('a reranker needs a non-empty query str: rr(query, documents=[...]).')
    if not isinstance(documents, list) or not documents or \
            not all(isinstance(d, str) for d in documents):
        raise InputError('a reranker needs documents=[str, ...] (a non-empty list of str).')
    if top_n is not None and (isinstance(top_n, bool) or not isinstance(top_n, int)
                              or top_n < 1):
        raise InputError(f'top_n must be an int >= 1, got {top_n!r}.')


def embed_call(client: Any, model: str | None, input: Any, **params: Any) -> Any:
    """One vector for a str, a list of vectors for a list of str."""
    texts, single = embed_texts(input)
    return then(client.embed(texts, model=model, **params),
                 lambda vectors: vectors[0] if single else vectors)


def rerank_call(client: Any, model: str | None, query: Any, documents: Any = None,
                top_n: int | None = None, **params: Any) -> Any:
    """(index, score) pairs, best first, for ``documents`` against ``query``."""
    rerank_args(query, documents, top_n)
    return then(client.rerank(query, documents, model=model, top_n=top_n, **params),
                lambda pairs: rerank_pairs(pairs, top_n))


def rerank_pairs(pairs: Any, top_n: int | None) -> list[tuple[int, float]]:
    """What a rerank call returns: (index, score) pairs, best first, at most ``top_n``
    (an endpoint may ignore top_n)."""
    return [(int(i), float(s)) for i, s in pairs[:top_n or len(pairs)]]
