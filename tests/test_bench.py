"""bench/ stays runnable: each script runs in its quick form and prints its table.
(Numbers are not checked here: speed is measured by the benches, not asserted in tests.)"""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*argv, timeout=240):
    out = subprocess.run([sys.executable, *argv], cwd=ROOT, capture_output=True, text=True,
                         timeout=timeout)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_bench_client_runs():
    text = run('bench/bench_client.py', '--iterations', '20', '--warmup', '5',
               '--import-runs', '2')
    assert 'non-stream' in text and 'stream' in text and 'import' in text


def test_bench_engines_runs_quick(tiny_llm_path, minilm_path):
    pytest.importorskip('psutil')
    text = run('bench/bench_engines.py', '--quick')
    for row in ('LLM 4 concurrent tok/s', 'module call vs raw HTTP', 'engines for 3 shares',
                'embed 8 concurrent'):
        assert row in text


def test_bench_online_runs():
    text = run('bench/bench_online.py', '--iterations', '20', '--warmup', '5')
    assert 'non-stream' in text and 'stream' in text and 'OnlineChatModule' in text


def test_bench_structured_runs_quick(tiny_llm_path):
    text = run('bench/bench_structured.py', '--quick')
    for line in ('answers valid against the schema', 'generated tokens/s',
                 'first grammar of the engine', 'a new schema compiled'):
        assert line in text


def test_bench_faults_runs_quick(tiny_llm_path):
    pytest.importorskip('psutil')
    text = run('bench/bench_faults.py', '--quick')
    for row in ('SIGKILL, 8 callers', 'ps while the engine is busy', 'deploy --detach returns'):
        assert row in text


def test_bench_llamacpp_runs_quick(smollm_path, llama_server):
    """llama.cpp against transformers (no vLLM in --quick)."""
    text = run('bench/bench_llamacpp.py', '--quick')
    for row in ('time to ready (start())', 'single-stream tok/s', '4 concurrent tok/s',
                '4 concurrent llamacpp/vllm', 'engine RSS after the runs (MB)'):
        assert row in text
    assert 'not run' not in text, text    # both engines of --quick ran


def test_bench_gateway_runs_quick(tiny_llm_path):
    text = run('bench/bench_gateway.py', '--quick')
    for row in ('non-stream median', 'non-stream p99', 'time to first token (median)',
                '16 concurrent streams: errors', '16 concurrent streams: wall'):
        assert row in text
