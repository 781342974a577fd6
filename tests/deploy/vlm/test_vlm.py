"""Image-to-text end to end: TrainableModule -> the vlm engine (auto-picked from the folder)
-> lazyllm.client, against the same captioning model run in-process with transformers."""
import asyncio
import base64
import json

import httpx
import pytest

import lazyllm
from lazyllm.errors import InputError, OnlineAPIError
from lazyllm.hub import ModelType, infer_type
from tests.support.vlm import IMAGE_KINDS

from .conftest import MAX_TOKENS


def post(vlm, body):
    return httpx.post(vlm.url + 'chat/completions', json=body, timeout=60)


def user(*parts):
    return {'temperature': 0, 'max_tokens': MAX_TOKENS,
            'messages': [{'role': 'user', 'content': list(parts)}]}


def image_part(url):
    return {'type': 'image_url', 'image_url': {'url': url}}


def data_url(path):
    return 'data:image/png;base64,' + base64.b64encode(path.read_bytes()).decode()


def test_type_is_read_from_the_folder(vlm_path, vlm):
    assert infer_type(vlm_path) == ModelType.VLM
    assert lazyllm.deploy.pick_engine(ModelType.VLM) is lazyllm.deploy.vlm
    assert lazyllm.TrainableModule(vlm_path).supports_image_input     # before start, too
    assert vlm.type == ModelType.VLM and vlm.supports_image_input
    cards = httpx.get(vlm.url + 'models').json()['data']
    assert cards[0]['kind'] == 'vlm' and cards[0]['max_model_len'] == 64
    assert httpx.get(vlm.url.replace('/v1/', '/health')).json()['kind'] == 'vlm'


def test_served_caption_is_the_models(vlm, images, reference):
    answers = {}
    for kind in IMAGE_KINDS:
        answers[kind] = vlm('Describe the image', lazyllm_files=[str(images[kind])])
        assert answers[kind] == reference(images[kind]), kind
    assert len(set(answers.values())) == len(IMAGE_KINDS), answers   # images tell apart


def test_every_form_of_an_image_gives_the_same_answer(vlm, images, reference, image_server):
    from PIL import Image
    path = images['stripes']
    want = reference(path)
    forms = {'str path': str(path), 'Path': path, 'bytes': path.read_bytes(),
             'PIL': Image.open(path), 'data URL': data_url(path),
             'http URL': image_server + path.name}
    for name, image in forms.items():
        assert vlm('Describe the image', lazyllm_files=image) == want, name
        assert vlm('Describe the image', lazyllm_files=[image]) == want, name


def test_max_tokens_usage_stream_and_async(vlm, images, reference):
    path = images['noise']
    result = vlm.chat('What is this?', lazyllm_files=path, max_tokens=3)
    assert result.content == reference(path, 3)
    assert result.finish_reason == 'length'
    assert result.usage['completion_tokens'] == 3
    streamed = list(vlm.share(stream=True).stream_forward('x', lazyllm_files=path))
    assert ''.join(streamed) == reference(path)
    assert asyncio.run(vlm.acall('x', lazyllm_files=path)) == reference(path)


def test_sampling_with_a_seed_repeats(vlm, images):
    body = {**user(image_part(data_url(images['blue']))), 'temperature': 1.5, 'seed': 7}
    first = post(vlm, body).json()['choices'][0]['message']['content']
    assert post(vlm, body).json()['choices'][0]['message']['content'] == first
    raw = post(vlm, {**body, 'stream': True, 'stream_options': {'include_usage': True}})
    assert raw.status_code == 200 and raw.text.endswith('data: [DONE]\n\n')
    chunks = [json.loads(line[6:]) for line in raw.text.splitlines()
              if line.startswith('data: {')]
    assert ''.join(c['choices'][0]['delta'].get('content') or '' for c in chunks
                   if c['choices']) == first            # the whole answer in one chunk
    assert chunks[-1]['usage']['completion_tokens'] > 0


def test_a_request_without_image_names_the_fix(vlm):
    with pytest.raises(OnlineAPIError, match='no image') as e:
        vlm('Describe the image')
    assert e.value.status == 400 and 'lazyllm_files' in str(e.value)


def test_non_images_are_refused(vlm, images, image_server):
    with pytest.raises(InputError, match='which vision models do not accept'):
        vlm('x', lazyllm_files=b'this is plain text, not a picture')   # before sending
    bad = 'data:image/png;base64,' + base64.b64encode(b'\x89PNG\r\n\x1a\n broken').decode()
    r = post(vlm, user(image_part(bad)))
    assert r.status_code == 400
    assert 'cannot be decoded as an image' in r.json()['error']['message']
    r = post(vlm, user(image_part(image_server + 'missing.png')))
    assert r.status_code == 400 and 'HTTP 404' in r.json()['error']['message']


@pytest.mark.parametrize('url, says', [
    ('file:///etc/passwd', "scheme 'file' is refused"),
    ('ftp://127.0.0.1/a.png', "scheme 'ftp' is refused"),
    ('data:image/png,rawbytes', 'without ";base64,"'),
    ('data:image/png;base64,@@@', 'not valid base64'),
])
def test_bad_image_urls_are_400s(vlm, url, says):
    r = post(vlm, user(image_part(url)))
    assert r.status_code == 400
    assert says in r.json()['error']['message']


def test_two_images_for_a_captioner_and_n_are_refused(vlm, images):
    url = data_url(images['red'])
    r = post(vlm, user(image_part(url), image_part(url)))
    assert r.status_code == 400 and 'one image per request' in r.json()['error']['message']
    r = post(vlm, {**user(image_part(url)), 'n': 2})
    assert r.status_code == 400 and 'n=2' in r.json()['error']['message']


def test_the_image_of_the_latest_user_message_is_captioned(vlm, images, reference):
    red, blue = data_url(images['red']), data_url(images['blue'])
    body = {'temperature': 0, 'max_tokens': MAX_TOKENS, 'messages': [
        {'role': 'system', 'content': 'You describe images.'},
        {'role': 'user', 'content': [{'type': 'text', 'text': 'first'}, image_part(red)]},
        {'role': 'assistant', 'content': 'something red'},
        {'role': 'user', 'content': [image_part(blue), {'type': 'text', 'text': 'and this?'}]},
    ]}
    r = post(vlm, body)
    assert r.status_code == 200
    assert r.json()['choices'][0]['message']['content'] == reference(images['blue'])


def test_engine_argv_and_options(vlm_path):
    engine = lazyllm.deploy.vlm
    argv = engine.argv(str(vlm_path), host='127.0.0.1', port=9, served_name='v',
                       options=engine.validate({'fetch_timeout': 2.5, 'max_image_mb': 1.0,
                                                'device': 'cpu'}))
    assert argv[1:4] == ['-m', 'lazyllm.deploy.servers', 'vlm']
    assert '--fetch-timeout' in argv and '--max-image-mb' in argv
    with pytest.raises(InputError, match='fetch_timout'):
        engine.validate({'fetch_timout': 1})
