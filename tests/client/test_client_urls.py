"""Base URL normalization and how request() paths are joined to the base."""
import pytest

from lazyllm.client import Client, normalize_base_url
from lazyllm.errors import InputError


@pytest.mark.parametrize('url', [
    'http://h:8000', 'h:8000', 'http://h:8000/', 'http://h:8000/v1', 'http://h:8000/v1/',
    'http://h:8000/v1/chat/completions', 'http://h:8000/v1/completions',
    'http://h:8000/v1/embeddings', 'http://h:8000/v1/rerank', 'http://h:8000/v1/models',
    'http://h:8000/generate', ' http://h:8000/v1// ', 'HTTP://h:8000/v1',
])
def test_every_spelling_of_a_vllm_url_gives_the_v1_base(url):
    assert normalize_base_url(url) == 'http://h:8000/v1/'


@pytest.mark.parametrize('url, base', [
    ('https://api.x.com/compatible-mode/v1', 'https://api.x.com/compatible-mode/v1/'),
    ('https://api.x.com/compatible-mode/v1/', 'https://api.x.com/compatible-mode/v1/'),
    ('https://api.x.com/api/v3/chat/completions', 'https://api.x.com/api/v3/'),
    ('https://api.x.com', 'https://api.x.com/v1/'),
    ('localhost:8000/v1', 'http://localhost:8000/v1/'),
    ('http://[::1]:8000/v1', 'http://[::1]:8000/v1/'),
    ('http://h/prefix/generate', 'http://h/prefix/v1/'),
    ('https://h/openai/deployments/d?api-version=2024', 'https://h/openai/deployments/d/'
     '?api-version=2024'),
])
def test_other_prefixes_are_kept_with_a_trailing_slash(url, base):
    assert normalize_base_url(url) == base


@pytest.mark.parametrize('url, words', [
    ('', 'empty'), ('   ', 'empty'), (None, 'empty'), (8000, 'empty'),
    ('ftp://h/v1', 'unsupported scheme'), ('http://', 'no host'),
    ('http://h:99999/v1', 'cannot be parsed'), ('http://h:port/v1', 'cannot be parsed'),
])
def test_bad_urls_raise_input_error_naming_the_fix(url, words):
    with pytest.raises(InputError) as e:
        normalize_base_url(url)
    assert words in str(e.value)
    assert 'http' in str(e.value)  # the fix shows a URL to use


def test_a_key_in_a_bad_url_is_redacted():
    with pytest.raises(InputError) as e:
        normalize_base_url('ftp://h/v1?api_key=sk-very-secret')
    assert 'sk-very-secret' not in str(e.value)


def test_client_normalizes_its_base_url_and_does_no_io():
    c = Client('127.0.0.1:9/v1/chat/completions')  # nothing listens there: no error yet
    try:
        assert c.base_url == 'http://127.0.0.1:9/v1/'
    finally:
        c.close()


def test_request_paths_join_relative_to_base_root_or_absolute(server):
    with Client(server.url + '/v1/chat/completions') as c:
        assert c.request('GET', 'models')['data'][0]['id'] == 'echo-model'
        assert c.request('GET', '/health') == {}
        assert c.request('get', server.url + '/v1/models')['object'] == 'list'
    assert [r.path for r in server.requests] == ['/v1/models', '/health', '/v1/models']


def test_query_of_the_base_is_sent_with_every_endpoint(server):
    with Client(server.base_url + '?api-version=7') as c:
        assert c.chat('hi').content == 'hi'
        c.models()
    assert [r.path for r in server.requests] == ['/v1/chat/completions?api-version=7',
                                                 '/v1/models?api-version=7']
