"""No foreign exception from input (issue 17, item 5).

Every public constructor, given URLs, keys, paths, names and options a user might paste (a
key read from a file with its newline, a smart quote, ``~nosuchuser/x``, a NUL byte, a lone
surrogate, a bad port), either works or raises a ``lazyllm.errors`` error that names the
argument: never a ``UnicodeEncodeError`` from httpx, h11's ``LocalProtocolError`` or
pathlib's ``RuntimeError``. Where it is cheap and offline, the first call is made too,
against a port on 127.0.0.1 that is bound but not listening (connection refused at once).

Offline throughout: a temporary LAZYLLM_HOME (session fixture), HF_HUB_OFFLINE=1, no
LAZYLLM_*_API_KEY and no LAZYLLM_MODEL_PATH, so no lookup leaves the machine.
"""
import contextlib
import os
import socket

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lazyllm
from lazyllm.client import AsyncClient, Client
from lazyllm.errors import InputError, LazyLLMError

# Bounded for CI (the file runs in seconds) and derandomized, so a failure reproduces;
# FUZZ_EXAMPLES=5000 runs a deeper, random search locally.
_DEEP = os.environ.get('FUZZ_EXAMPLES')
FUZZ = settings(max_examples=int(_DEEP or 150), deadline=None, derandomize=not _DEEP,
                suppress_health_check=[HealthCheck.too_slow])

# What users paste, and what breaks parsers: whitespace and newlines, non-ASCII (typographic
# quotes, zero-width space, accents), control characters, NUL, a lone surrogate, ~user paths,
# odd ports, schemes and brackets.
TRICKY = ['', ' ', '\n', '\r\n', '\t', 'sk-abc\n', 'sk-abc\r\n', ' sk-abc', 'sk abc',
          'kéy', 'sk-\u2019abc', 'sk-\u200babc', 'sk-\x00', 'a\x7fb', '\x01', '\ud800',
          '\udcff', '~', '~/', '~nosuchuser', '~nosuchuser/x', '~nosuchuser/x/y', './x',
          '../x', '/', '/nonexistent/model', 'org/name', 'a' * 300, '%', '%zz', '?', '#',
          '::', '[', 'http://', 'https://', 'ftp://h/x', 'http://[::1', 'http://[::1]:1/',
          'http://h:99999', 'http://h:-1', 'http://h:abc', 'http://a b/', 'http://é.com/v1',
          'http://h/v1?key=sk-secret', 'http://user:pw@h/', 'h:8000', 'localhost',
          'http://127.0.0.1:1/v1/chat/completions', 'http://h/\n', 'http://h/\x00',
          'qwen', 'openai', 'glm', 'sensenova', 'kimi', 'doubao', 'deepseek', 'siliconflow',
          'claude', 'anthropic', 'auto', 'vllm', 'transformers', '0', '-1', 'None']

text = st.one_of(st.sampled_from(TRICKY), st.text(max_size=24),
                 st.builds(lambda a, b: a + b, st.sampled_from(TRICKY), st.text(max_size=8)))
maybe_text = st.none() | text
values = st.one_of(st.none(), st.booleans(), st.integers(-2, 70000),
                   st.floats(allow_nan=True, allow_infinity=True), text,
                   st.lists(st.integers(), max_size=2), st.dictionaries(text, text, max_size=2))


@pytest.fixture(scope='module', autouse=True)
def offline_env():
    """No key, no model root, no hub access for the whole module."""
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith('LAZYLLM_') and name != 'LAZYLLM_HOME' or \
                    name in ('OPENAI_API_KEY', 'HF_TOKEN'):
                mp.delenv(name)
        mp.setenv('HF_HUB_OFFLINE', '1')
        mp.setenv('LAZYLLM_MAX_RETRIES', '0')
        yield


@pytest.fixture(scope='module')
def refused():
    """The base URL of a port bound on 127.0.0.1 but not listening: connects are refused."""
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    yield f'http://127.0.0.1:{sock.getsockname()[1]}/v1/'
    sock.close()


def only_lazyllm_errors(fn, *args, **kwargs):
    """Run ``fn``; a lazyllm error is a fine answer to bad input, anything else fails."""
    try:
        return fn(*args, **kwargs)
    except LazyLLMError:
        return None


@contextlib.contextmanager
def in_empty_folder(path):
    """Relative fuzz paths ('.', 'x') resolve inside an empty folder, never this checkout."""
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


# -- the client ---------------------------------------------------------------------------------
@FUZZ
@given(base=maybe_text, key=maybe_text, header=st.tuples(text, text), path=text)
def test_client_construction_and_first_call(refused, base, key, header, path):
    for url in (base, refused):
        client = only_lazyllm_errors(Client, url, key, headers=dict([header]), max_retries=0)
        if client is None:
            continue
        with client:
            if url == refused:
                only_lazyllm_errors(client.models)
                only_lazyllm_errors(client.request, 'GET', path)
        only_lazyllm_errors(AsyncClient, url, key, max_retries=0)


# -- online modules -----------------------------------------------------------------------------
@FUZZ
@given(source=maybe_text, model=maybe_text, base=maybe_text, key=maybe_text)
def test_online_modules(refused, source, model, base, key):
    for cls in (lazyllm.OnlineChatModule, lazyllm.OnlineEmbeddingModule):
        only_lazyllm_errors(cls, source=source, model=model, base_url=base, api_key=key)
        m = only_lazyllm_errors(cls, model=model, base_url=refused, api_key=key, max_retries=0)
        if m is not None:
            only_lazyllm_errors(m, 'hi')


# -- local modules --------------------------------------------------------------------------------
ENGINES = st.sampled_from(['auto', 'vllm', 'transformers', 'embedding', 'nosuch'])
OPTIONS = st.dictionaries(st.sampled_from(['max_batch', 'max_model_len', 'dtype', 'lora',
                                           'tensor_parallel_size', 'log_requests', 'nosuch']),
                          values, max_size=2)


@FUZZ
@given(base_model=text, url=maybe_text, engine=ENGINES, port=values, options=OPTIONS,
       method_url=maybe_text, key=maybe_text)
def test_trainable_module(tmp_path_factory, base_model, url, engine, port, options,
                          method_url, key):
    m = only_lazyllm_errors(lazyllm.TrainableModule, base_model, url=url)
    if m is not None:
        engine = getattr(lazyllm.deploy, engine, engine)
        only_lazyllm_errors(m.deploy_method, engine, url=method_url, port=port, api_key=key,
                            **options)
    with in_empty_folder(tmp_path_factory.mktemp('cwd')):
        only_lazyllm_errors(lazyllm.hub.resolve_model, base_model)


@FUZZ
@given(url=text, key=maybe_text)
def test_trainable_module_first_call_at_a_url(refused, url, key):
    """deploy_method(url=…) keeps the URL until start(): a bad one fails there, as ours."""
    for where in (url, refused + url.lstrip('/')):
        m = lazyllm.TrainableModule().deploy_method(url=where, api_key=key)
        only_lazyllm_errors(m, 'hi')
        m.stop()


@FUZZ
@given(model=maybe_text, source=maybe_text, url=maybe_text, key=maybe_text)
def test_automodel(tmp_path_factory, model, source, url, key):
    with in_empty_folder(tmp_path_factory.mktemp('cwd')):
        only_lazyllm_errors(lazyllm.AutoModel, model)
        only_lazyllm_errors(lazyllm.AutoModel, model, source=source, api_key=key)
        only_lazyllm_errors(lazyllm.AutoModel, model, url=url)
        only_lazyllm_errors(lazyllm.AutoModel, model, base_url=url, api_key=key)


@FUZZ
@given(name=values)
def test_connect_by_name(name):
    only_lazyllm_errors(lazyllm.connect, name)


# -- plain regressions: the exact inputs of the issue, and the message each one gets ------------
@pytest.mark.parametrize('key, said', [
    ('sk-abc\n', 'ends with a newline'),
    ('sk-abc\r\n', 'ends with a newline'),
    (' sk-abc', 'starts with whitespace'),
    ('sk abc', 'whitespace'),
    ('kéy', 'U+00E9'),
    ('sk-\u200babc', 'U+200B'),
    ('sk-\x00', 'control character'),
])
def test_bad_key_is_an_input_error_naming_api_key(refused, key, said):
    with pytest.raises(InputError, match='api_key') as err:
        Client(refused, key)
    assert said in str(err.value)
    assert key.strip() not in str(err.value)       # the key itself is never shown
    with pytest.raises(InputError, match='api_key'):
        lazyllm.OnlineChatModule(source='openai', api_key=key)


def test_key_from_the_environment_names_the_variable(monkeypatch):
    monkeypatch.setenv('LAZYLLM_OPENAI_API_KEY', 'sk-from-a-file\n')
    with pytest.raises(InputError, match='LAZYLLM_OPENAI_API_KEY'):
        lazyllm.OnlineChatModule(source='openai')


def test_key_sent_in_a_supplier_header_is_checked_too(monkeypatch):
    """Anthropic's key goes in x-api-key, not Authorization: the same rule applies."""
    with pytest.raises(InputError, match='api_key'):
        lazyllm.OnlineChatModule(source='claude', api_key='sk-ant\u2019')


@pytest.mark.parametrize('headers, said', [
    ({'X-Trace': 'é'}, 'X-Trace'),
    ({'X Trace': 'v'}, 'not a valid header name'),
    ({'X-Trace': 'a\nb'}, 'X-Trace'),
    ({'X-Api-Key': 'secret\n'}, 'X-Api-Key'),
])
def test_bad_header_is_an_input_error(refused, headers, said):
    with pytest.raises(InputError) as err:
        Client(refused, headers=headers)
    assert said in str(err.value) and 'secret' not in str(err.value)
    with Client(refused) as c, pytest.raises(InputError, match=said):
        c.request('GET', 'models', headers=headers)


@pytest.mark.parametrize('path', ['~nosuchuser/x', '~nosuchuser'])
def test_unknown_user_home_is_an_input_error(path):
    with pytest.raises(InputError, match='nosuchuser') as err:
        lazyllm.hub.resolve_model(path)
    assert 'home' in str(err.value)
    m = lazyllm.TrainableModule(path)                # constructors do no I/O
    with pytest.raises(LazyLLMError, match='nosuchuser'):
        m.start()


def test_unknown_user_in_lazyllm_home_is_a_config_error(monkeypatch):
    from lazyllm.errors import ConfigError
    monkeypatch.setenv('LAZYLLM_HOME', '~nosuchuser/lazyllm')
    with pytest.raises(ConfigError, match='LAZYLLM_HOME'):
        lazyllm.config.home()
