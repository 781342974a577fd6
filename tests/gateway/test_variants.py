"""Published variants: ``share(...).publish(name)`` in this process, answered by a real
``lazyllm serve`` subprocess (another process) as the share answers here, at temperature 0,
through the official ``openai`` SDK."""
from __future__ import annotations

import json
import subprocess
import sys

import httpx
import openai
import pytest

import lazyllm
from lazyllm.errors import InputError
from lazyllm.formatter import JsonFormatter
from lazyllm.registry import Registry
from tests.support.gateway import ROOT, Gateway, error_of
from tests.support.procs import wait_until

FRANCE = 'What is the capital of France?'
GEO = 'You are a concise geography teacher.'


@pytest.fixture(scope='module')
def geo(smol):
    return smol.share(prompt=GEO, temperature=0, max_tokens=24).publish('smol:geo')


@pytest.fixture(scope='module')
def gateway(geo):
    gw = Gateway()
    yield gw
    gw.stop()


def ask(client, model, content=FRANCE, **kw):
    return client.chat.completions.create(
        model=model, messages=[{'role': 'user', 'content': content}], **kw)


def test_a_variant_is_listed_with_its_deployment(client, gateway):
    cards = {m['id']: m for m in httpx.get(gateway.url + 'models').json()['data']}
    assert cards['smol:geo']['variant_of'] == 'smol' and cards['smol:geo']['kind'] == 'llm'
    assert cards['smol:geo']['streams'] is True and 'variant_of' not in cards['smol']


def test_a_variant_answers_exactly_as_its_share(client, geo, smol):
    """The gateway builds the same request from the stored data: the same words at
    temperature 0, and not the answer of the deployment without the prompt."""
    via = ask(client, 'smol:geo')
    assert via.choices[0].message.content == geo(FRANCE)
    plain = ask(client, 'smol', temperature=0, max_tokens=24)
    assert plain.choices[0].message.content == smol.share(temperature=0, max_tokens=24)(FRANCE)
    # the system prompt replaces SmolLM's default one: another prompt length
    assert via.usage.prompt_tokens != plain.usage.prompt_tokens
    streamed = ''.join(c.choices[0].delta.content or '' for c in ask(client, 'smol:geo',
                                                                     stream=True) if c.choices)
    assert streamed == via.choices[0].message.content


def test_earlier_messages_are_the_calls_history_and_the_request_overrides_defaults(
        client, geo):
    history = [{'role': 'user', 'content': 'Hi!'},
               {'role': 'assistant', 'content': 'Hello. Ask me about places.'}]
    via = client.chat.completions.create(
        model='smol:geo', messages=history + [{'role': 'user', 'content': FRANCE}],
        max_tokens=8)
    assert via.choices[0].message.content == geo(FRANCE, history=history, max_tokens=8)
    assert via.usage.completion_tokens <= 8


def test_prompt_variables_fill_the_prompts_keys(client, smol):
    smol.share(prompt='You are a {role}. Answer briefly.', temperature=0,
               max_tokens=16).publish('smol:role')
    role = smol.share(prompt='You are a {role}. Answer briefly.', temperature=0, max_tokens=16)
    expected = role({'role': 'pirate', 'input': FRANCE})
    assert wait_until(lambda: 'smol:role' in {m.id for m in client.models.list()}, timeout=10)
    via = client.chat.completions.create(
        model='smol:role', messages=[{'role': 'user', 'content': FRANCE}],
        extra_body={'prompt_variables': {'role': 'pirate'}})
    assert via.choices[0].message.content == expected
    with pytest.raises(openai.BadRequestError) as e:          # no value for {role}
        client.chat.completions.create(
            model='smol:role', messages=[{'role': 'user', 'content': FRANCE}],
            extra_body={'prompt_variables': {'colour': 'red'}})
    assert "add key 'role'" in e.value.message and e.value.code == 'invalid_request'


def test_a_variant_with_a_formatter_answers_whole_and_formatted(client, smol):
    """A JsonFormatter share: the engine is asked for a JSON object (constrained), and the
    gateway applies the formatter to the whole answer; a stream is refused saying why."""
    view = smol.share(prompt='Answer with a JSON object.', format=JsonFormatter(),
                      temperature=0, max_tokens=32)
    view.publish('smol:json')
    expected = view(FRANCE)
    assert wait_until(lambda: 'smol:json' in {m.id for m in client.models.list()}, timeout=10)
    via = ask(client, 'smol:json')
    assert isinstance(expected, (dict, list)) and json.loads(via.choices[0].message.content) \
        == expected
    with pytest.raises(openai.BadRequestError) as e:
        ask(client, 'smol:json', stream=True)
    assert e.value.code == 'stream_not_supported' and 'formatter' in e.value.message


def test_a_variant_answers_chat_only_and_checks_its_messages(gateway, client):
    with httpx.Client(base_url=gateway.url, timeout=60) as http:
        wrong = http.post('completions', json={'model': 'smol:geo', 'prompt': 'Hi'})
        assert wrong.status_code == 400 and error_of(wrong)['code'] == 'wrong_model_type'
        assert '/v1/chat/completions' in error_of(wrong)['message']
        for messages in ([], [{'role': 'assistant', 'content': 'Hi'}], 'hello'):
            bad = http.post('chat/completions', json={'model': 'smol:geo', 'messages': messages})
            assert bad.status_code == 400, bad.text
            assert error_of(bad)['param'] == 'messages'


def test_publish_refuses_what_is_not_data(smol, smollm_path):
    with pytest.raises(InputError, match='formatter .* is code'):
        smol.share(format=lambda text: text.upper()).publish('smol:upper')
    with pytest.raises(InputError, match='named deployment'):
        lazyllm.TrainableModule(str(smollm_path)).share(prompt=GEO).publish('x:geo')
    with pytest.raises(InputError, match='name of a deployment'):
        smol.share(prompt=GEO).publish('smol')
    with pytest.raises(InputError, match='not valid'):
        smol.share(prompt=GEO).publish('smol geo')
    assert {v.name for v in Registry().variants()} >= {'smol:geo'}
    assert 'smol:upper' not in {v.name for v in Registry().variants()}


def test_the_cli_lists_and_removes_variants(client, smol):
    smol.share(prompt='Be terse.', temperature=0.5).publish('smol:terse')

    def cli(*args):
        return subprocess.run([sys.executable, '-m', 'lazyllm', 'variants', *args], cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
    table = cli()
    assert table.returncode == 0 and 'smol:terse' in table.stdout
    assert 'temperature=0.5' in table.stdout and 'Be terse.' in table.stdout
    rows = {v['name']: v for v in json.loads(cli('--json').stdout)}
    assert rows['smol:terse']['base'] == 'smol'
    assert rows['smol:terse']['spec']['prompt']['instruction'] == 'Be terse.'
    assert cli('remove', 'smol:terse').returncode == 0
    again = cli('remove', 'smol:terse')
    assert again.returncode == 1 and 'no published variant' in again.stderr
    # the gateway stops serving it within its registry refresh
    assert wait_until(lambda: 'smol:terse' not in {m.id for m in client.models.list()},
                      timeout=10)
    with pytest.raises(openai.NotFoundError):
        ask(client, 'smol:terse')
