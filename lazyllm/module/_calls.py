"""What one call of a model module sends and returns, per model type.

Pure request/response shaping around the client, shared by the sync and async paths: each
function validates the input (bad input is an InputError before anything is sent), calls
the client, and shapes the answer. With an AsyncClient the result is a coroutine.
"""
from __future__ import annotations

from typing import Any, Callable

from ..errors import InputError
from ..prompt import ChatPrompter, PrompterBase

__all__ = ['as_prompter', 'llm_request', 'embed_call', 'rerank_call']

_DEFAULT_PROMPTER = ChatPrompter()


def _then(value: Any, shape: Callable[[Any], Any]) -> Any:
    if hasattr(value, '__await__'):   # an AsyncClient call
        async def later() -> Any:
            return shape(await value)
        return later()
    return shape(value)


def as_prompter(prompt: Any) -> PrompterBase | None:
    """The prompter of a module's ``prompt=``: a str or dict becomes a ChatPrompter."""
    if prompt is None or isinstance(prompt, PrompterBase):
        return prompt
    if isinstance(prompt, (str, dict)):
        return ChatPrompter(prompt)
    raise InputError(f'prompt must be a str, a dict or a prompter, got {type(prompt).__name__}.')


def llm_request(prompter: PrompterBase | None, input: Any, history: list,
                params: dict) -> tuple[list, dict]:
    """OpenAI messages and request parameters for one LLM call."""
    if input is None or (isinstance(input, str) and not input.strip()):
        raise InputError('the prompt is empty: call the model with a non-empty str (or a dict '
                         "for a prompter with placeholders), e.g. llm('hello').")
    if not isinstance(input, (str, dict)):
        raise InputError(f'an LLM takes a str or a dict, got {type(input).__name__}.')
    request = (prompter or _DEFAULT_PROMPTER).generate_prompt(
        input, history or None, params.pop('tools', None), format='openai')
    if request.get('tools'):
        params['tools'] = request['tools']
    return request['messages'], params


def embed_call(client: Any, model: str | None, input: Any, **params: Any) -> Any:
    """One vector for a str, a list of vectors for a list of str."""
    single = isinstance(input, str)
    texts = [input] if single else input
    if not isinstance(texts, list) or not texts or \
            not all(isinstance(t, str) and t for t in texts):
        raise InputError('an embedding model takes a non-empty str or a non-empty list of '
                         f'non-empty str, got {type(input).__name__}: {str(input)[:80]!r}.')
    return _then(client.embed(texts, model=model, **params),
                 lambda vectors: vectors[0] if single else vectors)


def rerank_call(client: Any, model: str | None, query: Any, documents: Any = None,
                top_n: int | None = None, **params: Any) -> Any:
    """(index, score) pairs, best first, for ``documents`` against ``query``."""
    if not isinstance(query, str) or not query.strip():
        raise InputError('a reranker needs a non-empty query str: rr(query, documents=[...]).')
    if not isinstance(documents, list) or not documents or \
            not all(isinstance(d, str) for d in documents):
        raise InputError('a reranker needs documents=[str, ...] (a non-empty list of str).')
    if top_n is not None and (isinstance(top_n, bool) or not isinstance(top_n, int)
                              or top_n < 1):
        raise InputError(f'top_n must be an int >= 1, got {top_n!r}.')
    return _then(client.rerank(query, documents, model=model, top_n=top_n, **params),
                 lambda pairs: [(int(i), float(s)) for i, s in pairs])
