"""share() views of one deployment, on the tiny random Qwen2 engine."""
import json

import pytest

import lazyllm
from lazyllm.errors import InputError


def logged_requests(module, marker):
    """Request bodies the engine logged (it runs with log_requests) that contain marker."""
    tag = 'request /v1/chat/completions '
    return [json.loads(ln.split(tag, 1)[1]) for ln in module.deployment.job.logs(400).splitlines()
            if tag in ln and marker in ln]


def test_each_share_sends_its_own_prompt(tiny_llm):
    chat = tiny_llm.share(prompt='You are a chatbot', max_tokens=2)
    code = tiny_llm.share(prompt='You are a coder', max_tokens=2)
    chat('marker-chat')
    code('marker-code')
    tiny_llm('marker-base', max_tokens=2)
    (body,) = logged_requests(tiny_llm, 'marker-chat')
    assert body['messages'][0] == {'role': 'system', 'content': 'You are a chatbot'}
    (body,) = logged_requests(tiny_llm, 'marker-code')
    assert body['messages'][0]['content'] == 'You are a coder' and body['max_tokens'] == 2
    (body,) = logged_requests(tiny_llm, 'marker-base')
    assert [m['role'] for m in body['messages']] == ['user']
    assert chat.deployment is tiny_llm.deployment is code.deployment


def test_changing_a_share_never_changes_another(tiny_llm):
    a = tiny_llm.share(prompt='A', temperature=0, max_tokens=3)
    b = a.share(prompt='B')
    b.prompt('C').formatter(str.upper)
    a('marker-a')
    (body,) = logged_requests(tiny_llm, 'marker-a')
    assert body['messages'][0]['content'] == 'A' and body['temperature'] == 0
    assert a._formatter is None and b._formatter is str.upper


def test_formatter_share_and_history(tiny_llm):
    lengths = tiny_llm.share(format=len, temperature=0, max_tokens=4)
    text = tiny_llm.share(temperature=0, max_tokens=4)('hello')
    assert lengths('hello') == len(text)
    h = tiny_llm.share(history=[['hi', 'hello!']], max_tokens=1)
    h('marker-history', history=[{'role': 'user', 'content': 'more'},
                                 {'role': 'assistant', 'content': 'ok'}])
    (body,) = logged_requests(tiny_llm, 'marker-history')
    assert [m['content'] for m in body['messages']] == ['hi', 'hello!', 'more', 'ok',
                                                      'marker-history']


def test_stream_joins_to_the_greedy_answer_and_feeds_listeners(tiny_llm):
    greedy = tiny_llm.share(temperature=0, max_tokens=12)
    whole = greedy('tell me about the fox')
    chunks = list(greedy.stream('tell me about the fox'))
    assert len(chunks) >= 2 and ''.join(chunks) == whole
    streaming = greedy.share(stream={'prefix': '[', 'suffix': ']'})
    got = []
    with lazyllm.listen_stream(lambda chunk, module: got.append(chunk)):
        assert streaming('tell me about the fox') == whole
    assert got[0] == '[' and got[-1] == ']' and ''.join(got[1:-1]) == whole


def test_async_calls(tiny_llm):
    import asyncio
    greedy = tiny_llm.share(temperature=0, max_tokens=6)
    whole = greedy('async fox')

    async def run():
        one = await greedy.acall('async fox')
        parts = [c async for c in greedy.astream('async fox')]
        return one, parts
    one, parts = asyncio.run(run())
    assert one == whole and ''.join(parts) == whole


def test_pipeline_of_shares_starts_once_and_answers(tiny_llm):
    engine = tiny_llm.deployment.job.pid
    ppl = lazyllm.pipeline(tiny_llm.share(max_tokens=2), lambda s: s + '!',
                           tiny_llm.share(max_tokens=2))
    ppl.start()
    assert isinstance(ppl('fox'), str)
    assert tiny_llm.deployment.job.pid == engine      # no second engine was launched


def test_bad_sampling_option_is_rejected(tiny_llm):
    with pytest.raises(InputError, match='unknown sampling option'):
        tiny_llm.share(temprature=0)
    with pytest.raises(InputError, match='unknown sampling option'):
        tiny_llm('hi', max_token=3)


def test_deploy_method_after_share_keeps_one_deployment(tiny_llm_path):
    base = lazyllm.TrainableModule(tiny_llm_path)
    chat = base.share(prompt='x')
    base.deploy_method(lazyllm.deploy.transformers, max_batch=2)
    assert chat.deployment is base.deployment
    assert chat.deployment.options == {'max_batch': 2}
    assert chat.deployment.engine is lazyllm.deploy.transformers
