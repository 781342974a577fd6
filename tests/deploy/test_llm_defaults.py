"""The built-in LLM engine's sampling defaults (generation_config.json, sampling_defaults=),
the served model id of a named deployment, and the request body limit option — over real
HTTP on the tiny random Qwen2 (its text is noise: only equality of greedy outputs and
structure are asserted)."""
import json
import shutil

import httpx
import pytest

import lazyllm
from lazyllm.errors import DeployError, InputError

USER = [{'role': 'user', 'content': 'the quick brown fox'}]


def ask(m, **body):
    r = httpx.post(m.url + 'chat/completions', timeout=120,
                   json={'messages': USER, 'max_tokens': 8, **body})
    return r.status_code, r.json()


@pytest.fixture(scope='module')
def greedy_folder(tiny_llm_path, tmp_path_factory):
    """The tiny model with a generation_config.json that says: decode greedily."""
    folder = tmp_path_factory.mktemp('greedy') / 'tiny-greedy'
    shutil.copytree(tiny_llm_path, folder)
    cfg = json.loads((folder / 'generation_config.json').read_text())
    (folder / 'generation_config.json').write_text(json.dumps({**cfg, 'temperature': 0.0}))
    return folder


def texts(m, n=3, **body):
    return [ask(m, **body)[1]['choices'][0]['message']['content'] for _ in range(n)]


def test_the_folders_generation_config_applies_when_a_request_omits_it(greedy_folder):
    with lazyllm.TrainableModule(greedy_folder).deploy_method(
            lazyllm.deploy.transformers).start() as m:
        omitted = texts(m)
        assert len(set(omitted)) == 1                           # greedy: the same every time
        assert omitted[0] == texts(m, 1, temperature=0)[0]      # ...and equal to asking for it
        assert len(set(texts(m, 4, temperature=1.5))) > 1       # a request still overrides


def test_generation_config_none_and_sampling_defaults_override_the_file(greedy_folder):
    with lazyllm.TrainableModule(greedy_folder).deploy_method(
            lazyllm.deploy.transformers, generation_config='none').start() as m:
        assert len(set(texts(m, 4))) > 1                        # OpenAI's temperature 1
    with lazyllm.TrainableModule(greedy_folder).deploy_method(
            lazyllm.deploy.transformers,
            sampling_defaults={'temperature': 1.5, 'max_tokens': 3}).start() as m:
        answers = [ask(m, max_tokens=None)[1] for _ in range(4)]
        assert {a['usage']['completion_tokens'] for a in answers} == {3}
        assert len({a['choices'][0]['message']['content'] for a in answers}) > 1


def test_bad_sampling_defaults_are_refused(tiny_llm_path):
    with pytest.raises(InputError, match='sampling_defaults takes'):
        lazyllm.TrainableModule(tiny_llm_path).deploy_method(
            lazyllm.deploy.transformers, sampling_defaults={'temprature': 0}).start()
    with pytest.raises(DeployError, match='temperature must be from 0 to 2'):
        lazyllm.TrainableModule(tiny_llm_path).deploy_method(
            lazyllm.deploy.transformers, sampling_defaults={'temperature': 9}).start()


def test_a_named_deployment_serves_its_name_and_the_folder_as_an_alias(tiny_llm_path):
    m = lazyllm.TrainableModule(tiny_llm_path).deploy_method(
        lazyllm.deploy.transformers, max_body_mb=0.01).start(name='tiny-named')
    try:
        cards = httpx.get(m.url + 'models').json()['data']
        assert [c['id'] for c in cards] == ['tiny-named']
        assert httpx.get(m.url + 'models/tiny-named').json()['id'] == 'tiny-named'
        assert httpx.get(m.url + 'models/tiny-qwen2').json()['id'] == 'tiny-named'
        for name in ('tiny-named', 'tiny-qwen2', None):
            status, body = ask(m, model=name)
            assert status == 200 and body['model'] == 'tiny-named'
        status, body = ask(m, model='gpt-4o')
        assert status == 404 and body['error']['code'] == 'model_not_found'
        assert "'tiny-named', 'tiny-qwen2'" in body['error']['message']
        missing = httpx.get(m.url + 'models/gpt-4o')
        assert missing.status_code == 404 and missing.json()['error']['param'] == 'model'
        assert m('hi', max_tokens=2) is not None                # lazyllm's own calls follow
        # max_body_mb=0.01: a 20 kB body is a 413 in OpenAI's shape, before the model sees it
        status, body = ask(m, messages=[{'role': 'user', 'content': 'x' * 20000}])
        assert status == 413 and body['error']['code'] == 'request_too_large'
        assert 'max_body_mb' in body['error']['message']
    finally:
        m.stop(force=True)


def test_max_body_mb_must_be_positive(tiny_llm_path):
    with pytest.raises(InputError, match='max_body_mb must be > 0'):
        lazyllm.TrainableModule(tiny_llm_path).deploy_method(
            lazyllm.deploy.transformers, max_body_mb=0).start()
