"""vLLM failing to start: the DeployError names vLLM's own reason and the option to change."""
import time

import pytest

import lazyllm
from lazyllm.errors import DeployError


def test_head_size_16_fails_fast_with_the_reason(vllm_python, tiny_llm_path):
    # vLLM's CPU attention lacks head size 16: vLLM itself would start, then die at the first
    # request ("Unsupported CPU attention configuration: head_dim=16"), so the engine refuses
    # before launching.
    m = lazyllm.TrainableModule(tiny_llm_path).deploy_method(
        lazyllm.deploy.vllm, python=vllm_python, enforce_eager=True)
    t = time.monotonic()
    with pytest.raises(DeployError) as info:
        m.start()
    assert time.monotonic() - t < 5
    text = str(info.value)
    assert 'head size is 16' in text and 'head_dim=16' in text
    assert '32, 64, 80' in text and 'lazyllm.deploy.transformers' in text
    assert m.status == 'stopped' and m.deployment.job is None


def test_vllm_startup_error_is_quoted(vllm_python, tiny_llm_vllm_path, server_options):
    # a context longer than the model's: vLLM refuses while it reads the config
    options = dict(server_options, max_model_len=1 << 20)
    m = lazyllm.TrainableModule(tiny_llm_vllm_path).deploy_method(
        lazyllm.deploy.vllm, python=vllm_python, **options)
    t = time.monotonic()
    with pytest.raises(DeployError) as info:
        m.start()
    took = time.monotonic() - t
    text = str(info.value)
    head = text.split('Last log lines:')[0]
    assert 'exited before it was ready' in head
    assert 'vLLM says:' in head and 'max_model_len' in head, head
    assert 'Fix: lower max_model_len=' in head
    assert took < 120
