"""Precision, quantization, device and attention (issue 10, item 5): what this machine cannot
run ends the engine before it loads any weight, with the reason; flash attention falls back
with a log line. Real engines on the tiny model."""
from __future__ import annotations

import json
import shutil
import time

import pytest

import lazyllm
from lazyllm.errors import DeployError, InputError
from lazyllm.serve._pool import pool

GREEDY = dict(temperature=0, max_tokens=4)


def _deploy(path, **options):
    return lazyllm.TrainableModule(str(path)).deploy_method(lazyllm.deploy.transformers,
                                                            **options)


@pytest.mark.parametrize('options, said', [
    ({'device': 'cuda'}, "device='cuda' but no CUDA GPU is usable here"),
    ({'device': 'cuda:3'}, 'no CUDA GPU'),
    ({'device': 'mps'}, "device='mps' but Apple's Metal backend is not available"),
    ({'quantization': '4bit'}, "quantization='4bit' (bitsandbytes) needs a CUDA GPU and this "
                               "engine runs on cpu"),
    ({'quantization': 'nf4', 'device': 'cpu'}, 'needs a CUDA GPU'),
    ({'quantization': 'gptq'}, 'is not quantized (config.json quantization_config): use a '
                               'GPTQ checkpoint'),
])
def test_what_cannot_run_here_fails_before_loading_with_the_reason(tiny_llm_path, options,
                                                                   said):
    m = _deploy(tiny_llm_path, **options)
    started = time.monotonic()
    with pytest.raises(DeployError) as e:
        m.start()
    assert said in str(e.value) and 'engine error' not in str(e.value).split('\n')[0]
    log = e.value.args[0]
    assert 'loaded ' not in log                 # no weight was read
    assert time.monotonic() - started < 120
    assert m.deployment.job is None and m.deployment not in pool.live()


def test_a_folder_quantized_another_way_is_named(tiny_llm_path, tmp_path):
    folder = tmp_path / 'awq-labelled'
    shutil.copytree(tiny_llm_path, folder)
    config = json.loads((folder / 'config.json').read_text())
    config['quantization_config'] = {'quant_method': 'awq', 'bits': 4}
    (folder / 'config.json').write_text(json.dumps(config))
    with pytest.raises(DeployError, match="'gptq' but .* is quantized with awq"):
        _deploy(folder, quantization='gptq').start()


def test_flash_attention_falls_back_to_sdpa_with_a_log_line(tiny_llm_path):
    flash = _deploy(tiny_llm_path, attention='flash_attention_2')
    sdpa = _deploy(tiny_llm_path, attention='sdpa')
    with flash.start(), sdpa.start():
        assert flash('hello', **GREEDY) == sdpa('hello', **GREEDY)
        assert 'flash attention was asked for but it needs a CUDA GPU: falling back to sdpa' \
            in flash.deployment.job.logs(200)


@pytest.mark.parametrize('dtype', ['float32', 'bfloat16'])
def test_dtypes_load_as_asked(tiny_llm_path, dtype):
    with _deploy(tiny_llm_path, dtype=dtype).start() as m:
        assert isinstance(m('hello', **GREEDY), str)
        assert f'torch.{dtype}' in m.deployment.job.logs(200)


@pytest.mark.parametrize('options', [{'quantization': 'int3'}, {'attention': 'fast'},
                                     {'dtype': 'float8'}])
def test_unknown_values_are_refused_when_configured(tiny_llm_path, options):
    with pytest.raises(InputError, match='is not one of'):
        _deploy(tiny_llm_path, **options)


def test_a_device_map_places_the_layers_and_answers_the_same(tiny_llm_path):
    mapped = _deploy(tiny_llm_path, device_map='auto')
    plain = _deploy(tiny_llm_path, device='cpu')
    with mapped.start(), plain.start():
        assert mapped('hello', **GREEDY) == plain('hello', **GREEDY)
        assert 'loaded ' in mapped.deployment.job.logs(200) and ' on cpu ' in \
            mapped.deployment.job.logs(200)
