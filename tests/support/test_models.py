"""The real test models build, are cached, and behave as the rest of the suite expects.

The cache tests need nothing heavy; the model tests are skipped (with the install command)
when torch, transformers, sentence-transformers or the model packages are missing.
"""
import hashlib
import json
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # so that `tests.support` imports under any rootdir
    sys.path.insert(0, str(ROOT))

from tests.support import models  # noqa: E402

INSTALL_HINT = 'install the model packages with `.ci/install-models.sh VENV`'


def _need(*modules):
    for module in modules:
        pytest.importorskip(module, reason=f'{module} is not installed: {INSTALL_HINT}')


def _sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ---------------------------------------------------------------------------- cache plumbing

@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(models.CACHE_ENV, str(tmp_path / 'cache'))
    return tmp_path / 'cache'


def _counting_builder(calls):
    def build(out):
        calls.append(out)
        (out / 'weights.bin').write_bytes(b'w' * 10)
        (out / 'sub').mkdir()
        (out / 'sub' / 'config.json').write_text('{}')
    return build


def test_cache_root_follows_env(cache):
    assert models.cache_root() == cache


def test_cached_builds_once_then_reuses(cache):
    calls = []
    first = models._cached('thing', 1, _counting_builder(calls))
    again = models._cached('thing', 1, _counting_builder(calls))
    assert first == again == cache / 'thing'
    assert len(calls) == 1 and calls[0] != first  # built in a temp dir, then renamed
    marker = json.loads((first / models.MARKER).read_text())
    assert marker['files'] == {'sub/config.json': 2, 'weights.bin': 10}
    assert [p.name for p in cache.iterdir() if 'building' in p.name] == []


def test_cached_rebuilds_incomplete_or_stale_folder(cache):
    calls = []
    folder = models._cached('thing', 1, _counting_builder(calls))
    (folder / 'weights.bin').unlink()
    models._cached('thing', 1, _counting_builder(calls))
    assert len(calls) == 2 and (folder / 'weights.bin').is_file()
    (folder / 'weights.bin').write_bytes(b'short')  # truncated file
    models._cached('thing', 1, _counting_builder(calls))
    assert len(calls) == 3
    models._cached('thing', 2, _counting_builder(calls))  # recipe changed
    assert len(calls) == 4
    (folder / models.MARKER).unlink()  # a folder without marker is never trusted
    models._cached('thing', 2, _counting_builder(calls))
    assert len(calls) == 5


def test_failed_build_leaves_nothing(cache):
    def broken(out):
        (out / 'half.bin').write_bytes(b'x')
        raise RuntimeError('boom')
    with pytest.raises(RuntimeError, match='boom'):
        models._cached('thing', 1, broken)
    assert not (cache / 'thing').exists()
    assert [p.name for p in cache.iterdir() if not p.name.endswith('.lock')] == []


def test_leftovers_of_a_killed_build_are_removed(cache):
    (cache / '.thing.building-abc').mkdir(parents=True)
    models._cached('thing', 1, _counting_builder([]))
    assert sorted(p.name for p in cache.iterdir()) == ['.thing.lock', 'thing']


def test_concurrent_callers_build_once(cache):
    calls, started = [], threading.Barrier(4)

    def slow_build(out):
        calls.append(out)
        threading.Event().wait(0.3)
        (out / 'weights.bin').write_bytes(b'w')

    results = []

    def worker():
        started.wait()
        results.append(models._cached('thing', 1, slow_build))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and results == [cache / 'thing'] * 4


def test_missing_package_error_names_the_install_command():
    with pytest.raises(RuntimeError, match='pip install'):
        models._package_dir('surely_not_an_installed_package_xyz', 'pip install xyz')


# ---------------------------------------------------------------------------- tiny Qwen2

@pytest.fixture(scope='module')
def tiny_dir():
    _need('torch', 'transformers', 'tokenizers')
    return models.tiny_qwen2()


def test_tiny_qwen2_folder(tiny_dir):
    config = json.loads((tiny_dir / 'config.json').read_text())
    assert config['model_type'] == 'qwen2'
    assert (config['hidden_size'], config['num_hidden_layers']) == (64, 2)
    assert (config['num_attention_heads'], config['num_key_value_heads']) == (4, 2)
    assert (config['intermediate_size'], config['max_position_embeddings']) == (128, 512)
    assert (tiny_dir / 'model.safetensors').is_file()


def test_tiny_qwen2_tokenizer_and_chat_template(tiny_dir):
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(str(tiny_dir))
    assert tok.eos_token == '<|im_end|>' and tok.pad_token == '<|endoftext|>'
    assert tok.eos_token_id == 2 and tok.pad_token_id == 0
    text = tok.apply_chat_template(
        [{'role': 'system', 'content': 'Be brief.'}, {'role': 'user', 'content': 'Hello!'}],
        tokenize=False, add_generation_prompt=True)
    assert text == ('<|im_start|>system\nBe brief.<|im_end|>\n'
                    '<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n')
    ids = tok(text)['input_ids']
    assert ids[0] == tok.convert_tokens_to_ids('<|im_start|>')
    assert tok.decode(ids) == text  # byte-level BPE round-trips, specials stay whole
    assert tok.decode(tok('naïve café ✓ 123')['input_ids']) == 'naïve café ✓ 123'


def test_tiny_qwen2_generates(tiny_dir):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    tok = AutoTokenizer.from_pretrained(str(tiny_dir))
    model = AutoModelForCausalLM.from_pretrained(str(tiny_dir)).eval()
    inputs = tok.apply_chat_template([{'role': 'user', 'content': 'Hi'}],
                                     add_generation_prompt=True, return_tensors='pt',
                                     return_dict=True)
    with torch.inference_mode():
        out = model.generate(**inputs, max_new_tokens=8, min_new_tokens=8, do_sample=False)
        again = model.generate(**inputs, max_new_tokens=8, min_new_tokens=8, do_sample=False)
    assert out.shape[1] == inputs['input_ids'].shape[1] + 8
    assert torch.equal(out, again)
    assert isinstance(tok.decode(out[0]), str)


def test_tiny_qwen2_is_deterministic(tiny_dir, tmp_path, monkeypatch):
    monkeypatch.setenv(models.CACHE_ENV, str(tmp_path))
    rebuilt = models.tiny_qwen2()
    assert rebuilt != tiny_dir
    for name in ('model.safetensors', 'tokenizer.json'):
        assert _sha256(rebuilt / name) == _sha256(tiny_dir / name), name

    def config(folder):  # the cached folder may come from another transformers version
        return {k: v for k, v in json.loads((folder / 'config.json').read_text()).items()
                if k != 'transformers_version'}
    assert config(rebuilt) == config(tiny_dir)


def test_tiny_qwen2_overrides_get_their_own_folder(tmp_path, monkeypatch):
    _need('torch', 'transformers', 'tokenizers')
    monkeypatch.setenv(models.CACHE_ENV, str(tmp_path))
    wide = models.tiny_qwen2(hidden_size=128)
    assert wide.name.startswith('tiny-qwen2-') and wide.name != 'tiny-qwen2'
    assert json.loads((wide / 'config.json').read_text())['hidden_size'] == 128


# ---------------------------------------------------------------------------- SmolLM2

@pytest.fixture(scope='module')
def smollm_dir():
    _need('torch', 'transformers', 'gguf')
    try:
        models.smollm2_gguf()
    except RuntimeError as e:
        pytest.skip(str(e))
    return models.smollm2_135m_instruct()


def test_smollm2_folder(smollm_dir):
    config = json.loads((smollm_dir / 'config.json').read_text())
    assert config['model_type'] == 'llama' and config['architectures'] == ['LlamaForCausalLM']
    sizes = (config['hidden_size'], config['num_hidden_layers'], config['vocab_size'])
    assert sizes == (576, 30, 49152)
    assert config['tie_word_embeddings'] is True
    assert 'quantization_config' not in config  # plain float weights, no GGUF at load time


def test_smollm2_tokenizer_and_template(smollm_dir):
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(str(smollm_dir))
    assert (tok.eos_token, tok.eos_token_id) == ('<|im_end|>', 2)
    text = tok.apply_chat_template([{'role': 'user', 'content': 'Hi'}], tokenize=False,
                                   add_generation_prompt=True)
    assert text == ('<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained '
                    'by Hugging Face<|im_end|>\n'
                    '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n')
    # llama.cpp's 'smollm' pre-tokenizer: every digit is its own token
    assert tok.tokenize('in 2024') == ['in', 'Ġ', '2', '0', '2', '4']


def test_smollm2_knows_the_capital_of_france(smollm_dir):
    answer, tokens_per_s = models.greedy_chat(smollm_dir, 'What is the capital of France?')
    print(f'SmolLM2 answer: {answer!r} ({tokens_per_s:.1f} tokens/s)')
    assert 'Paris' in answer


# ---------------------------------------------------------------------------- MiniLM

@pytest.fixture(scope='module')
def minilm():
    _need('torch', 'sentence_transformers')
    try:
        path = models.minilm_l6_v2()
    except RuntimeError as e:
        pytest.skip(str(e))
    from sentence_transformers import SentenceTransformer
    with models._offline():
        return path, SentenceTransformer(str(path), device='cpu')


def test_minilm_folder(minilm):
    path, _ = minilm
    spec = json.loads((path / 'modules.json').read_text())
    modules = [m['type'].rsplit('.', 1)[-1] for m in spec]
    assert modules == ['Transformer', 'Pooling', 'Normalize']
    assert json.loads((path / '1_Pooling' / 'config.json').read_text())['pooling_mode_mean_tokens']


def test_minilm_embeds_meaning(minilm):
    import numpy as np
    _, model = minilm
    a, b, c = model.encode(['A man is eating food.', 'A man is eating a piece of bread.',
                            'The stock market fell sharply today.'])
    assert a.shape == (384,)
    assert np.allclose([np.linalg.norm(v) for v in (a, b, c)], 1.0, atol=1e-5)
    assert float(a @ b) > float(a @ c) + 0.3


# ---------------------------------------------------------------------------- reranker

@pytest.fixture(scope='module')
def reranker_dir():
    _need('torch', 'sentence_transformers', 'datasets', 'accelerate')
    try:
        models.minilm_l6_v2()
    except RuntimeError as e:
        pytest.skip(str(e))
    return models.tiny_cross_encoder()


def test_cross_encoder_folder(reranker_dir):
    config = json.loads((reranker_dir / 'config.json').read_text())
    assert config['architectures'] == ['BertForSequenceClassification']
    assert len(config['id2label']) == 1  # a single relevance score
    assert (reranker_dir / 'tokenizer.json').is_file()


def test_cross_encoder_ranks_relevant_first(reranker_dir):
    from sentence_transformers import CrossEncoder
    with models._offline():
        model = CrossEncoder(str(reranker_dir), device='cpu')
    query, good, bad = models.RERANK_HELD_OUT
    docs = [bad, 'Tokyo is a large city in Japan.', good]
    ranking = model.rank(query, docs)
    assert ranking[0]['corpus_id'] == 2, ranking
    good_score, bad_score = model.predict([(query, good), (query, bad)])
    assert good_score > bad_score
