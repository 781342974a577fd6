"""The llamacpp engine on a real llama-server and SmolLM2's GGUF: auto picks it, answers match
the server's own, shares and streaming and JSON work on one process, concurrent requests are
decoded in shared batches, and every field is honoured or refused."""
import concurrent.futures as cf
import json
import re

import httpx
import pytest

import lazyllm
from lazyllm.errors import InputError

GEO = 'You are a concise geography teacher.'
QUESTION = 'What is the capital of France?'
CITY = {'type': 'json_schema', 'json_schema': {'name': 'city', 'schema': {
    'type': 'object', 'properties': {'city': {'type': 'string'}}, 'required': ['city'],
    'additionalProperties': False}}}


def root(module):
    return module.url.rsplit('/v1', 1)[0]


def test_auto_serves_a_gguf_with_llamacpp(gguf_llm, smollm_gguf):
    assert gguf_llm.deployment.served_by.name == 'llamacpp'
    assert lazyllm.hub.model_type(smollm_gguf) == lazyllm.hub.ModelType.LLM
    cards = httpx.get(root(gguf_llm) + '/v1/models', timeout=10).json()['data']
    assert cards[0]['id'] == gguf_llm.deployment.served_name


def test_greedy_answer_is_the_servers_own(gguf_llm):
    geo = gguf_llm.share(prompt=GEO, temperature=0, max_tokens=40)
    ours = geo(QUESTION)
    assert ours == 'The capital of France is Paris.'
    raw = httpx.post(root(gguf_llm) + '/v1/chat/completions', timeout=60, json={
        'messages': [{'role': 'system', 'content': GEO}, {'role': 'user', 'content': QUESTION}],
        'temperature': 0, 'max_tokens': 40}).json()
    assert raw['choices'][0]['message']['content'] == ours


def test_three_shares_stream_and_json_on_one_process(gguf_llm):
    geo = gguf_llm.share(prompt=GEO, temperature=0, max_tokens=40)
    poet = gguf_llm.share(prompt='You are a poet. Answer with two short lines.',
                          temperature=0.7, seed=1, max_tokens=40)
    city = gguf_llm.share(temperature=0, max_tokens=40, response_format=CITY)
    pieces = list(geo.stream(QUESTION))
    assert len(pieces) > 1 and ''.join(pieces) == 'The capital of France is Paris.'
    assert poet('Write about the sea.').strip()
    assert json.loads(city('Give the capital of France as JSON.')) == {'city': 'Paris'}
    jobs = {m.deployment.job for m in (gguf_llm, geo, poet, city)}
    assert len(jobs) == 1                                 # one engine process for all


def test_completions_endpoint_and_usage(gguf_llm):
    result = gguf_llm.chat(QUESTION, temperature=0, max_tokens=5)
    assert result.finish_reason == 'length' and result.usage['completion_tokens'] == 5
    body = httpx.post(root(gguf_llm) + '/v1/completions', timeout=60, json={
        'prompt': 'The capital of France is', 'temperature': 0, 'max_tokens': 3}).json()
    assert body['object'] == 'text_completion' and body['usage']['completion_tokens'] <= 3


def test_sixteen_concurrent_requests_share_batches(smollm_gguf):
    m = lazyllm.TrainableModule(smollm_gguf).deploy_method(lazyllm.deploy.llamacpp,
                                                           parallel=16, ctx_size=8192)
    with m.start():
        questions = [f'Count from 1 to {i + 3}.' for i in range(16)]
        with cf.ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(lambda q: m.chat(q, temperature=0, max_tokens=24),
                                    questions))
        metrics = httpx.get(root(m) + '/metrics', timeout=10).text
    assert all(a.content and a.usage['completion_tokens'] > 0 for a in answers)
    busy = float(re.search(r'^llamacpp:n_busy_slots_per_decode (\S+)$', metrics, re.M)[1])
    assert busy > 2, metrics       # decodes carried several requests at once


def test_renamed_fields_are_honoured(gguf_llm):
    # repetition_penalty is repeat_penalty to llama.cpp: a strong one changes a greedy answer
    plain = gguf_llm(QUESTION, temperature=0, max_tokens=30)
    penalised = gguf_llm(QUESTION, temperature=0, max_tokens=30, repetition_penalty=2.0)
    assert plain != penalised


@pytest.mark.parametrize('fields, says', [
    ({'thinking': {'type': 'enabled'}}, 'no thinking= field'),
    ({'tools': [{'type': 'function', 'function': {'name': 'f', 'parameters': {
        'type': 'object', 'properties': {}}}}]}, 'does not show tools'),
])
def test_fields_llamacpp_would_ignore_are_refused(gguf_llm, fields, says):
    with pytest.raises(InputError, match=says):
        gguf_llm(QUESTION, **fields)


def test_server_errors_come_back_as_lazyllm_errors(gguf_llm):
    with pytest.raises(lazyllm.errors.LazyLLMError, match='400'):
        gguf_llm(QUESTION, max_tokens=-3)
    assert gguf_llm(QUESTION, temperature=0, max_tokens=8)      # the engine still answers
