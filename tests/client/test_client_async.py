"""The asyncio client against the same real server (run with asyncio.run, no plugin)."""
import asyncio
import time

import pytest

from lazyllm.client import AsyncClient, ChatResult, CompletionResult
from lazyllm.errors import (
    AuthenticationError,
    EndpointConnectError,
    EndpointTimeout,
    ServerError,
    StreamInterrupted,
)
from tests.servers.openai_server import embed_vector


def run(coro):
    return asyncio.run(coro)


def test_async_happy_paths(server):
    async def main():
        async with AsyncClient(server.base_url) as c:
            chat = await c.chat([{'role': 'user', 'content': 'async hello'}], model='m')
            comp = await c.complete('a b c', max_tokens=2)
            vecs = await c.embed(['x', 'y'])
            ranked = await c.rerank('dogs', ['cats', 'dogs'], top_n=1)
            models = await c.models()
            health = await c.request('GET', '/health')
            return chat, comp, vecs, ranked, models, health
    chat, comp, vecs, ranked, models, health = run(main())
    assert isinstance(chat, ChatResult) and chat.content == 'async hello' and chat.model == 'm'
    assert isinstance(comp, CompletionResult) and comp.text == 'a b '
    assert vecs == [embed_vector('x'), embed_vector('y')]
    assert ranked == [(1, 1.0)] and models == ['echo-model'] and health == {}
    assert [r.path for r in server.requests] == [
        '/v1/chat/completions', '/v1/completions', '/v1/embeddings', '/v1/rerank',
        '/v1/models', '/health']
    assert len({r.client_port for r in server.requests}) == 1  # one kept-alive connection


def test_async_stream_with_usage_reasoning_and_tools(server):
    tools = [{'type': 'function', 'function': {'name': 'f', 'parameters': {}}}]

    async def main():
        async with AsyncClient(server.base_url) as c:
            plain = [d async for d in c.stream_chat('one two', stream_options={
                'include_usage': True})]
            rich = [d async for d in c.stream_chat('q', model='reasoner', tools=tools)]
            comp = [d.content async for d in c.stream_complete('x y z')]
            return plain, rich, comp
    plain, rich, comp = run(main())
    assert [d.content for d in plain] == ['', 'one ', 'two', '', '']
    assert plain[-1].usage['completion_tokens'] == 2
    r = ChatResult.from_deltas(rich)
    assert r.reasoning_content == 'Thinking about: q'
    assert r.tool_calls[0]['function'] == {'name': 'f', 'arguments': '{"text": "q"}'}
    assert ''.join(comp) == 'x y z'


def test_async_retries_500_then_succeeds(server):
    server.fail(500, times=2)

    async def main():
        async with AsyncClient(server.base_url) as c:
            return await c.chat('retry me')
    assert run(main()).content == 'retry me'
    assert server.count() == 3


def test_async_429_retry_after_is_honoured(server):
    server.fail(429, retry_after=0.3)

    async def main():
        async with AsyncClient(server.base_url) as c:
            return await c.embed('x')
    assert run(main()) == [embed_vector('x')]
    first, second = server.requests
    assert second.time - first.time >= 0.3


def test_async_500_forever_and_401(server, keyed_server):
    server.fail(502, times=None)

    async def main():
        async with AsyncClient(server.base_url, max_retries=1) as c:
            with pytest.raises(ServerError) as e:
                await c.chat('x')
        async with AsyncClient(keyed_server.base_url, api_key='sk-nope-nope') as c:
            with pytest.raises(AuthenticationError):
                await c.chat('x')
        return e.value
    err = run(main())
    assert err.status == 502 and server.count() == 2
    assert keyed_server.count() == 1


def test_async_cut_stream_is_interrupted_and_not_retried(server):
    server.cut_stream(after=1)

    async def main():
        got = []
        async with AsyncClient(server.base_url) as c:
            with pytest.raises(StreamInterrupted) as e:
                async for d in c.stream_chat('alpha beta gamma'):
                    got.append(d.content)
        return got, e.value
    got, err = run(main())
    assert got == ['', 'alpha '] and err.received == 'alpha '
    assert server.count() == 1


def test_async_timeout_and_connection_refused(server, dead_url):
    server.slow(delay=3)

    async def main():
        async with AsyncClient(server.base_url, timeout=0.5) as c:
            t0 = time.monotonic()
            with pytest.raises(EndpointTimeout):
                await c.chat('slow')
            slow = time.monotonic() - t0
        async with AsyncClient(dead_url) as c:
            t0 = time.monotonic()
            with pytest.raises(EndpointConnectError) as e:
                await c.models()
            refused = time.monotonic() - t0
        return slow, refused, e.value
    slow, refused, err = run(main())
    assert slow < 1.2 and refused < 2
    assert 'connection refused' in str(err)


def test_async_calls_run_concurrently(server):
    server.slow(delay=0.3, times=None)

    async def main():
        async with AsyncClient(server.base_url) as c:
            t0 = time.monotonic()
            answers = await asyncio.gather(*(c.chat(f'n{i}') for i in range(5)))
            return answers, time.monotonic() - t0
    answers, elapsed = run(main())
    assert [a.content for a in answers] == [f'n{i}' for i in range(5)]
    assert elapsed < 1.0  # 5 x 0.3 s in parallel, not 1.5 s in series
