"""`lazyllm models convert MODEL --to gguf`: llama.cpp's converter turns SmolLM2's safetensors
folder into a Q8_0 GGUF that the llamacpp engine serves with the same greedy answer; bad input
and a failing conversion are lazyllm errors that leave no file behind; without a configured
converter, lazyllm fetches it once from the llamacpp extra's source package."""
import json
import os
import subprocess
import sys

import pytest

import lazyllm
from lazyllm import config
from lazyllm.errors import ConversionError, InputError


@pytest.fixture(scope='module')
def smollm_q8(converter, smollm_path, tmp_path_factory):
    out = tmp_path_factory.mktemp('convert') / 'smol-Q8_0.gguf'
    env = {**os.environ, 'LAZYLLM_LLAMACPP_CONVERT': str(converter)}
    done = subprocess.run([sys.executable, '-m', 'lazyllm', 'models', 'convert', smollm_path,
                           '--to', 'gguf', '--quantization', 'q8_0', '--out', str(out),
                           '--json'], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout) == {'name': str(smollm_path), 'path': str(out)}
    return out


def test_the_converted_file_is_q8_0_llama(smollm_q8):
    header = lazyllm.hub.read_gguf_header(smollm_q8)
    assert (header.architecture, header.quantization) == ('llama', 'Q8_0')
    assert not list(smollm_q8.parent.glob('.*.partial'))


def test_the_converted_model_answers_like_the_original(smollm_q8):
    with lazyllm.TrainableModule(smollm_q8).start() as m:
        assert m.deployment.served_by.name == 'llamacpp'
        geo = m.share(prompt='You are a concise geography teacher.', temperature=0,
                      max_tokens=40)
        assert geo('What is the capital of France?') == 'The capital of France is Paris.'


def test_bad_input_is_refused_before_converting(smollm_path, tmp_path):
    with pytest.raises(InputError, match='quantization must be one of f32, f16, bf16, q8_0'):
        lazyllm.hub.convert_to_gguf(smollm_path, quantization='q4_k_m')
    (tmp_path / 'x.gguf').write_bytes(b'GGUF')
    with pytest.raises(InputError, match='not a Hugging Face model folder'):
        lazyllm.hub.convert_to_gguf(tmp_path / 'x.gguf')


def test_a_failing_conversion_says_why_and_leaves_nothing(converter, smollm_path, tmp_path):
    folder = tmp_path / 'odd'
    folder.mkdir()
    for name in os.listdir(smollm_path):
        os.symlink(os.path.join(smollm_path, name), folder / name)
    (folder / 'config.json').unlink()
    (folder / 'config.json').write_text('{"architectures": ["NoSuchForCausalLM"], '
                                        '"model_type": "nosuch"}')
    out = tmp_path / 'odd.gguf'
    with config.override(llamacpp_convert=str(converter)), \
            pytest.raises(ConversionError, match="llama.cpp's converter failed on .*NoSuch"):
        lazyllm.hub.convert_to_gguf(folder, out=out)
    assert not out.exists() and not list(tmp_path.glob('.*.partial'))


def test_the_converter_is_fetched_once_without_a_setting(tmp_path, monkeypatch):
    monkeypatch.setenv('LAZYLLM_HOME', str(tmp_path))
    with config.override(llamacpp_convert=''):
        script = lazyllm.hub.gguf_converter()
        assert script.is_relative_to(tmp_path / 'tools')
        assert (script.parent / 'gguf-py' / 'gguf' / '__init__.py').is_file()
        assert (script.parent / 'conversion').is_dir()
        assert lazyllm.hub.gguf_converter() == script       # kept: not fetched again
