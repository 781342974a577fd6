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


def test_memory_refusal_is_reported_by_its_root_cause(vllm_python, smollm_path):
    """vLLM on CPU with its default memory share (0.92 of all RAM, given here so that lazyllm
    does not size it) while another process holds 4 GiB: its engine core raises the
    ValueError that says so, and its parents re-raise it as 'Engine core initialization
    failed' and 'WorkerProc initialization failed'. The error quotes the first, and the fix."""
    from tests.support.procs import hold_memory
    holder = hold_memory(4)
    try:
        m = lazyllm.TrainableModule(smollm_path).deploy_method(
            lazyllm.deploy.vllm, python=vllm_python, enforce_eager=True, max_model_len=1024,
            gpu_memory_utilization=0.92)
        with pytest.raises(DeployError) as info:
            m.start()
    finally:
        holder.kill()
        holder.wait()
    head = str(info.value).split('Last log lines:')[0]
    assert 'vLLM says: ValueError:' in head and 'memory utilization' in head, head
    assert 'WorkerProc' not in head and 'initialization failed' not in head, head
    assert 'Fix: lower gpu_memory_utilization=' in head
