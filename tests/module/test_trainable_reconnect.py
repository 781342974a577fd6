"""Attaching a TrainableModule to an engine that already runs, by URL: every URL form a user
may paste, from this process and from another one, a dead URL, and stop() that detaches."""
import socket
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

import lazyllm
from lazyllm.errors import EndpointError

PROMPT = 'the quick brown fox'
SAMPLING = dict(temperature=0, max_tokens=8)
FORMS = ['{root}', '{root}/v1', '{root}/v1/', '{root}/v1/chat/completions', '{root}/generate']


@pytest.fixture(scope='module')
def root(tiny_llm):
    return tiny_llm.url[:-len('/v1/')]          # http://127.0.0.1:PORT


@pytest.fixture(scope='module')
def expected(tiny_llm):
    return tiny_llm(PROMPT, **SAMPLING)


def attach_both_ways(url):
    return [lazyllm.TrainableModule().deploy_method(lazyllm.deploy.auto, url=url),
            lazyllm.TrainableModule(url=url)]


@pytest.mark.parametrize('form', FORMS)
def test_every_url_form_attaches_and_answers_the_same(form, root, tiny_llm, expected):
    url = form.format(root=root)
    for m in attach_both_ways(url):
        assert m.start() is m
        try:
            assert m.status == 'attached'
            assert m.url == tiny_llm.url == root + '/v1/'
            assert m.deployment.served_name == tiny_llm.deployment.served_name
            assert m.deployment.job is None                     # nothing was launched
            assert m.type == lazyllm.hub.ModelType.LLM
            assert m(PROMPT, **SAMPLING) == expected
        finally:
            m.stop()


def test_attached_module_starts_lazily_on_first_call(root, expected):
    m = lazyllm.TrainableModule(url=root + '/v1/')
    assert m.status == 'stopped' and m.url is None      # the constructor does no I/O
    try:
        assert m(PROMPT, **SAMPLING) == expected
        assert m.status == 'attached'
    finally:
        m.stop()


ATTACH = textwrap.dedent('''
    import sys, lazyllm
    m = lazyllm.TrainableModule(url=sys.argv[1])
    print(repr(m(sys.argv[2], temperature=0, max_tokens=8)))
    m.stop()
''')


def test_attach_from_another_process(root, expected, tmp_path):
    script = tmp_path / 'attach.py'
    script.write_text(ATTACH)
    done = subprocess.run([sys.executable, str(script), root + '/v1/', PROMPT],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == repr(expected)


def dead_url():
    """A URL on a port where nothing listens (bound then closed; the kernel does not hand
    it out again at once)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    return f'http://127.0.0.1:{port}/v1/'


def test_dead_url_is_a_quick_endpoint_error():
    url = dead_url()
    m = lazyllm.TrainableModule(url=url)
    t0 = time.monotonic()
    with pytest.raises(EndpointError) as info:               # start(): the one failure
        m.start()
    assert time.monotonic() - t0 < 2
    assert url in str(info.value)
    assert m.status == 'stopped'

    t0 = time.monotonic()
    with pytest.raises(EndpointError) as info:               # a call starts it lazily
        m('hello')
    assert time.monotonic() - t0 < 2
    assert url in str(info.value) and 'cannot attach' in str(info.value)

    m = lazyllm.TrainableModule().deploy_method(lazyllm.deploy.auto, url=url[:-len('/v1/')])
    t0 = time.monotonic()
    with pytest.raises(EndpointError, match='cannot attach to http://127.0.0.1:'):
        m('hello')
    assert time.monotonic() - t0 < 2


def test_stop_on_an_attached_module_only_detaches(tiny_llm, expected):
    engine = tiny_llm.deployment.job.pid
    m = lazyllm.TrainableModule(url=tiny_llm.url).start()
    assert m(PROMPT, **SAMPLING) == expected
    m.stop()
    assert m.status == 'stopped' and m.url is None
    assert tiny_llm.status == 'running' and psutil.pid_exists(engine)
    assert tiny_llm(PROMPT, **SAMPLING) == expected           # the engine keeps answering
    m.stop()                                                  # twice is fine
    with m.start():                                           # and it can attach again
        assert m(PROMPT, **SAMPLING) == expected
    assert tiny_llm(PROMPT, **SAMPLING) == expected
