"""Nothing one request does can fail another, and a request nobody waits for stops.

On the tiny random Qwen2 (a variant with a 32k context, so that a long answer takes
minutes and a cancelled one is plainly cut short): poisonous requests batched with good
ones, a grammar that raises inside the generator (in-process), clients that go away,
``/health`` while a 3.9 MiB prompt is tokenized, and bodies over the limits.
"""
import concurrent.futures as cf
import json
import queue
import threading
import time

import httpx
import pytest

import lazyllm
from tests.support import models

CONTEXT = 32768
USER = [{'role': 'user', 'content': 'the quick brown fox'}]


@pytest.fixture(scope='module')
def long_tiny_path(tiny_llm_path):        # tiny_llm_path: skips when torch & co are missing
    return models.tiny_qwen2(max_position_embeddings=CONTEXT)


@pytest.fixture(scope='module')
def engine(long_tiny_path):
    m = lazyllm.TrainableModule(str(long_tiny_path)).deploy_method(
        lazyllm.deploy.transformers, max_batch=8).start()
    yield m
    m.stop()


@pytest.fixture(scope='module')
def url(engine):
    return engine.url


@pytest.fixture(scope='module')
def base(url):
    return url.rsplit('/v1/', 1)[0]


@pytest.fixture(scope='module')
def eos(long_tiny_path):
    return json.loads((long_tiny_path / 'generation_config.json').read_text())['eos_token_id']


def stats(base):
    return httpx.get(base + '/stats', timeout=30).json()


def openai_error(r, status):
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {'error'} and set(body['error']) == {'message', 'type', 'param', 'code'}
    return body['error']


# -- (a) poison in a batch ----------------------------------------------------------------
def poisons(eos):
    never_eos = {str(eos): -100}
    return {
        'greedy at 1e-300': ({'temperature': 1e-300}, {200}),
        'seed 2**64': ({'seed': 2**64, 'temperature': 1.0}, {400}),
        'seed -2**63-1': ({'seed': -2**63 - 1, 'temperature': 1.0}, {400}),
        'top_p 0': ({'top_p': 0, 'temperature': 1.0}, {200}),
        'top_p 1e-300 and min_p 1': ({'top_p': 1e-300, 'min_p': 1.0, 'top_k': 1,
                                      'temperature': 2.0}, {200}),
        'logit_bias ends it': ({'logit_bias': {str(eos): 100}}, {200}),
        'logit_bias 300 tokens down': ({'logit_bias': {str(i): -100 for i in range(300)},
                                        'temperature': 2.0}, {200}),
        'logit_bias pushes one token': ({'logit_bias': {'7': 100, **never_eos}}, {200}),
        'json_schema with a backreference': ({'response_format': {
            'type': 'json_schema', 'json_schema': {'name': 'x', 'schema': {
                'type': 'string', 'pattern': '(a)\\1'}}}}, {400}),
        'json_schema min > max': ({'response_format': {
            'type': 'json_schema', 'json_schema': {'name': 'x', 'schema': {
                'type': 'integer', 'minimum': 5, 'maximum': 1}}}}, {400}),
        'json_schema with not': ({'response_format': {
            'type': 'json_schema', 'json_schema': {'name': 'x', 'schema': {
                'not': {'type': 'string'}}}}}, {400}),
        'forced call, unicode regex': ({'tool_choice': 'required', 'tools': [{
            'type': 'function', 'function': {'name': 'f', 'parameters': {
                'type': 'object', 'properties': {'a': {'type': 'string', 'pattern': '\\p{L}'}},
                'required': ['a']}}}]}, {400}),
        'json_object, most tokens banned': ({'response_format': {'type': 'json_object'},
                                             'logit_bias': {str(i): -100 for i in range(300)}},
                                            {200}),
        'max_tokens over the context': ({'max_tokens': CONTEXT}, {400}),
        'stream at top_p 0': ({'stream': True, 'top_p': 0.0, 'temperature': 1.0}, {200}),
    }


def send(url, extra):
    body = {'messages': USER, 'max_tokens': 8, **extra}
    with httpx.Client(timeout=300) as c:
        if body.get('stream'):
            with c.stream('POST', url + 'chat/completions', json=body) as r:
                frames = [ln[6:] for ln in r.iter_lines() if ln.startswith('data: ')]
            return r.status_code, frames
        r = c.post(url + 'chat/completions', json=body)
        return r.status_code, r.json()


def test_poison_requests_fail_alone(url, base, eos):
    good = {'temperature': 0, 'logit_bias': {str(eos): -100}}   # 8 tokens each, for sure
    cases = poisons(eos)
    before = stats(base)
    with cf.ThreadPoolExecutor(len(cases) + 5) as pool:
        fine = [pool.submit(send, url, good) for _ in range(5)]
        bad = {name: pool.submit(send, url, extra) for name, (extra, _) in cases.items()}
        for name, future in bad.items():
            status, body = future.result()
            assert status in cases[name][1], (name, status, body)
            if status >= 400:
                assert set(body['error']) == {'message', 'type', 'param', 'code'}
            elif isinstance(body, list):                     # a stream: no error frame
                assert body[-1] == '[DONE]' and not any(
                    'error' in json.loads(f) for f in body[:-1]), (name, body)
        for future in fine:
            status, body = future.result()
            assert status == 200, body
            assert body['usage']['completion_tokens'] == 8
            assert body['choices'][0]['finish_reason'] == 'length'
    after = stats(base)
    print(f'\nbatches {after["batches"] - before["batches"]} for '
          f'{after["requests"] - before["requests"]} requests (largest {after["max_batch"]}), '
          f'failed rows {after["failed"] - before["failed"]}')
    assert httpx.get(base + '/health').status_code == 200


@pytest.mark.parametrize('stream', [False, True])
def test_a_tiny_repetition_penalty_is_refused_before_the_batch(url, stream):
    # 1e-300 is 0 in float32: the penalized logits would be inf/NaN (once a 500 mid-batch)
    body = {'messages': USER, 'max_tokens': 8, 'repetition_penalty': 1e-300,
            'temperature': 1.0, 'stream': stream}
    r = httpx.post(url + 'chat/completions', json=body, timeout=60)
    assert r.status_code == 400 and r.json()['error']['param'] == 'repetition_penalty'


# -- (b) a row that raises inside the generator -------------------------------------------
class Exploding:
    """A grammar (``_constrain.RowConstraint``'s interface) whose mask raises after
    ``after`` steps."""
    finished = False

    def __init__(self, after=0):
        self.after, self.calls = after, 0

    def mask(self, logits):
        self.calls += 1
        if self.calls > self.after:
            raise RuntimeError('the grammar exploded')

    def accept(self, token):
        return True


@pytest.fixture(scope='module')
def generator(tiny_llm_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from lazyllm.deploy.servers._generator import BatchGenerator
    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(str(tiny_llm_path))
    model = AutoModelForCausalLM.from_pretrained(str(tiny_llm_path)).eval()
    gen = BatchGenerator(model, tok, max_batch=8, gather_ms=200, max_gather_ms=1000)
    yield gen, tok
    gen.close()


@pytest.mark.parametrize('after', [0, 3], ids=['at-once', 'mid-answer'])
def test_a_row_whose_grammar_raises_fails_alone(generator, after):
    from lazyllm.deploy.servers._generator import GenRequest
    from lazyllm.deploy.servers._sampling import Sampling
    gen, tok = generator
    eos = sorted(gen.eos)
    prompts = ['the quick brown fox', 'a lazy dog sleeps', 'hello there']
    events = [queue.Queue() for _ in prompts]
    failed = gen.stats['failed']
    reqs = [GenRequest(tok.encode(p), 6, Sampling(temperature=0,
                                                  logit_bias={e: -100 for e in eos}),
                       events[i].put, constraint=Exploding(after) if i == 1 else None)
            for i, p in enumerate(prompts)]
    for r in reqs:
        gen.submit(r)
    finals = []
    for q in events:
        got = [q.get(timeout=120)]
        while got[-1].finish_reason is None:
            got.append(q.get(timeout=120))
        finals.append(got)
    bad = finals[1][-1]
    assert bad.finish_reason == 'error' and 'the grammar exploded' in bad.error
    assert len(finals[1]) <= after + 1         # the text of its good steps, then the error
    for i in (0, 2):
        last = finals[i][-1]
        assert last.finish_reason == 'length' and last.error is None
        assert last.completion_tokens == 6
        assert ''.join(e.text for e in finals[i])
    assert gen.stats['failed'] == failed + 1


# -- (c) clients that go away ---------------------------------------------------------------
def wait_for_cancel(base, before, seconds=120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        now = stats(base)
        if now['cancelled'] > before['cancelled']:
            return now
        time.sleep(0.2)
    raise AssertionError(f'no request was cancelled in {seconds}s: {stats(base)}')


def long_body(eos, **extra):
    """An answer that would run to the end of the 32k context (end of text banned)."""
    return {'messages': USER, 'max_tokens': CONTEXT - 64, 'temperature': 0,
            'logit_bias': {str(eos): -100}, **extra}


def test_a_client_that_times_out_cancels_its_request(url, base, eos):
    before = stats(base)
    t0 = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(url + 'chat/completions', json=long_body(eos), timeout=1.0)
    after = wait_for_cancel(base, before)
    tokens = after['tokens'] - before['tokens']
    print(f'\ncancelled {time.monotonic() - t0:.1f}s after sending, after {tokens} of '
          f'{CONTEXT - 64} tokens')
    assert after['cancelled'] == before['cancelled'] + 1
    assert tokens < (CONTEXT - 64) // 4


def test_a_stream_closed_early_cancels_its_request(url, base, eos):
    before = stats(base)
    seen = 0
    with httpx.Client(timeout=60) as c:
        with c.stream('POST', url + 'chat/completions', json=long_body(eos, stream=True)) as r:
            assert r.status_code == 200
            for line in r.iter_lines():
                seen += line.startswith('data: ')
                if seen == 5:
                    break
    after = wait_for_cancel(base, before)
    tokens = after['tokens'] - before['tokens']
    print(f'\nstream closed after {seen} frames; cancelled after {tokens} tokens')
    assert after['cancelled'] == before['cancelled'] + 1
    assert tokens < (CONTEXT - 64) // 4


# -- (d) /health while a huge prompt is prepared --------------------------------------------
def test_health_answers_while_a_huge_prompt_is_tokenized(url, base):
    words = 'the quick brown fox jumps over the lazy dog '
    text = (words * (int(3.9 * 2**20) // len(words)))[:int(3.9 * 2**20) - 200]
    raw = json.dumps({'messages': [{'role': 'user', 'content': text}],
                      'max_tokens': 1}).encode()
    assert 3.8 * 2**20 < len(raw) < 4 * 2**20
    sent, done, result = threading.Event(), threading.Event(), {}

    def chunks():
        for i in range(0, len(raw), 1 << 16):
            yield raw[i:i + (1 << 16)]
        sent.set()

    def big():
        t0 = time.monotonic()
        try:
            result['response'] = httpx.post(url + 'chat/completions', content=chunks(),
                                            headers={'content-type': 'application/json'},
                                            timeout=600)
        finally:
            result['seconds'] = time.monotonic() - t0
            done.set()
    thread = threading.Thread(target=big)
    thread.start()
    assert sent.wait(120)
    answered = []                        # (status, seconds) of /health while big is pending
    with httpx.Client(timeout=600) as c:
        while not done.is_set():
            t0 = time.monotonic()
            status = c.get(base + '/health').status_code
            if not done.is_set():
                answered.append((status, time.monotonic() - t0))
            time.sleep(0.05)
    thread.join()
    slowest = max((s for _, s in answered), default=float('nan'))
    print(f'\nthe 3.9 MiB request took {result["seconds"]:.1f}s; /health answered '
          f'{len(answered)} times meanwhile, slowest {slowest * 1000:.0f} ms')
    assert answered and all(status == 200 for status, _ in answered)
    err = openai_error(result['response'], 400)       # ~2M tokens: over the 32k context
    assert err['code'] == 'context_length_exceeded'


# -- (e) limits -------------------------------------------------------------------------------
def test_a_body_over_the_limit_is_a_413(url):
    raw = b'{"messages": [{"role": "user", "content": "' + b'x' * (5 << 20) + b'"}]}'
    r = httpx.post(url + 'chat/completions', content=raw, timeout=120,
                   headers={'content-type': 'application/json'})
    err = openai_error(r, 413)
    assert err['code'] == 'request_too_large' and 'MiB' in err['message']


def test_a_chunked_body_over_the_limit_is_a_413(url):
    """No Content-Length to judge by: the engine stops reading past the limit."""
    def chunks():
        yield b'{"messages": [{"role": "user", "content": "'
        for _ in range(80):
            yield b'x' * (1 << 16)
        yield b'"}]}'
    try:
        r = httpx.post(url + 'chat/completions', content=chunks(), timeout=120,
                       headers={'content-type': 'application/json'})
    except (httpx.WriteError, httpx.RemoteProtocolError):
        pytest.skip('the engine closed the connection while the body was still sent')
    err = openai_error(r, 413)
    assert err['code'] == 'request_too_large'


def nested_body(lists):
    """A body whose ``metadata`` is ``lists`` nested lists: 1 + ``lists`` levels deep."""
    nested = '[' * lists + ']' * lists
    return f'{{"messages": [{{"role": "user", "content": "hi"}}], "metadata": {nested}}}'


@pytest.mark.parametrize('lists', [64, 500, 100_000])
def test_json_nested_too_deep_is_a_400(url, lists):
    r = httpx.post(url + 'chat/completions', content=nested_body(lists).encode(), timeout=120,
                   headers={'content-type': 'application/json'})
    err = openai_error(r, 400)
    if lists < 1000:
        assert 'nested more than 64 levels' in err['message'], err
    else:       # deeper than Python's json parser goes: not JSON it can read
        assert 'JSON' in err['message'], err


def test_json_nested_to_the_limit_is_read(url):
    """64 levels pass the depth check, and the field is then checked as usual."""
    r = httpx.post(url + 'chat/completions', content=nested_body(63).encode(), timeout=120,
                   headers={'content-type': 'application/json'})
    err = openai_error(r, 400)       # read and checked: metadata must be an object
    assert err['param'] == 'metadata', err
