"""SmolLM2-135M-Instruct behind one real vLLM server: chat, completions, streaming, shares,
and reconnection by URL."""
from pathlib import Path

import pytest

import lazyllm
from tests.support.procs import engine_processes

VLLM_SERVER = 'vllm.entrypoints.openai.api_server'

QUESTION = 'What is the capital of France?'


@pytest.fixture(scope='module')
def base(vllm_python, smollm_path, server_options, timed_start):
    m = lazyllm.TrainableModule(str(smollm_path)).deploy_method(
        lazyllm.deploy.vllm, python=vllm_python, seed=0, **server_options)
    timed_start(m, 'smollm2')
    yield m
    m.stop()


def test_capital_of_france_greedy(base):
    assert base.deployment.engine.name == 'vllm'
    assert 'Paris' in base.share(prompt='You are a chatbot', temperature=0)(QUESTION)


def test_two_shares_one_vllm_server(base):
    chat = base.share(prompt='You are a chatbot', temperature=0)
    terse = base.share(prompt='You are terse. Answer in one word.', temperature=0, max_tokens=8)
    chat.start()
    terse.start()
    assert chat.deployment is terse.deployment is base.deployment
    assert len(engine_processes(base, VLLM_SERVER)) == 1
    assert 'Paris' in chat(QUESTION)
    assert 'Paris' in terse(QUESTION)
    assert len(engine_processes(base, VLLM_SERVER)) == 1


def test_streaming_joins_to_the_greedy_answer(base):
    story = base.share(prompt='You are a chatbot', temperature=0, max_tokens=32)
    whole = story(QUESTION)
    chunks = list(story.stream(QUESTION))
    assert len(chunks) > 1 and ''.join(chunks) == whole
    assert 'Paris' in whole


def test_completions(base):
    client = base.deployment.client()
    out = client.complete('The capital of France is', model=base.deployment.served_name,
                          temperature=0, max_tokens=4)
    assert 'Paris' in out.text


def test_served_model_name_and_card(base):
    cards = base.deployment.client().request('GET', 'models')['data']
    assert cards[0]['id'] == base.deployment.served_name == Path(base.deployment.model).name


@pytest.mark.parametrize('form', ['{root}', '{root}/', '{root}/v1', '{root}/v1/',
                                  '{root}/v1/chat/completions'])
def test_reconnect_by_every_url_form(base, form):
    root = base.url[:-len('/v1/')]
    expected = base.share(prompt='You are a chatbot', temperature=0)(QUESTION)
    for m in (lazyllm.TrainableModule(url=form.format(root=root)),
              lazyllm.TrainableModule().deploy_method(lazyllm.deploy.vllm,
                                                      url=form.format(root=root))):
        m.start()
        assert m.url == base.url and m.status == 'attached'
        assert m.share(prompt='You are a chatbot', temperature=0)(QUESTION) == expected
        m.stop()
    assert base.status == 'running'
