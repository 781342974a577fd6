"""The issue's seed example, as written, on the real SmolLM2-135M-Instruct (greedy)."""
import json

import pytest

import lazyllm
from tests.support.procs import engine_processes


@pytest.fixture(scope='module')
def base(smollm_path):
    m = lazyllm.TrainableModule(str(smollm_path)).deploy_method(
        lazyllm.deploy.transformers, log_requests=True).start()
    yield m
    m.stop()


def test_capital_of_france(base):
    answer = base.share(prompt='You are a chatbot', temperature=0)(
        'What is the capital of France?')
    assert 'Paris' in answer


def test_seed_example_three_shares_one_engine(base):
    chat = base.share(prompt='You are a chatbot', temperature=0)
    code = base.share(prompt='You are a coding assistant', temperature=0, max_tokens=24)
    tool = base.share(prompt='Answer in JSON with keys "country" and "capital". Output only JSON.',
                      format=lazyllm.formatter.JsonFormatter(), stream={'color': 'blue'},
                      temperature=0, max_tokens=60)
    for share in (chat, code, tool):
        share.start()
    assert len(engine_processes(base)) == 1

    assert 'Paris' in chat('What is the capital of France?')
    code('Write a Python function that adds two numbers.')
    painted = []
    with lazyllm.listen_stream(lambda chunk, module: painted.append(chunk)):
        parsed = tool('Give the country and capital for France as JSON.')
    assert isinstance(parsed, dict) and parsed.get('capital') == 'Paris'
    assert len(painted) > 3 and all(c.startswith('\033[34m') for c in painted)

    tag = 'request /v1/chat/completions '
    bodies = [json.loads(ln.split(tag, 1)[1]) for ln in base.deployment.job.logs(200).splitlines()
              if tag in ln]
    systems = {b['messages'][0]['content'] for b in bodies if b['messages'][0]['role'] == 'system'}
    assert {'You are a chatbot', 'You are a coding assistant'} <= systems
    assert any(s.startswith('Answer in JSON') for s in systems)
    assert len(engine_processes(base)) == 1


def test_streaming_joins_to_the_greedy_answer(base):
    story = base.share(prompt='You are a storyteller', temperature=0, max_tokens=40)
    whole = story('Tell me a story about a cat.')
    chunks = list(story.stream('Tell me a story about a cat.'))
    assert len(chunks) > 5
    assert ''.join(chunks) == whole
