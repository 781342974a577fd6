"""`import lazyllm` stays fast and light (DESIGN rule 5)."""
import json
import subprocess
import sys

import lazyllm

HEAVY = ['torch', 'transformers', 'vllm', 'sentence_transformers', 'FlagEmbedding',
         'modelscope', 'peft', 'httpx', 'huggingface_hub', 'fastapi', 'uvicorn', 'numpy']


def _fresh(code: str) -> str:
    return subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          check=True).stdout


def test_import_leaves_heavy_libraries_out():
    out = _fresh('import sys, json, lazyllm; print(json.dumps(sorted(sys.modules)))')
    loaded = set(json.loads(out))
    assert not loaded & set(HEAVY), f'import lazyllm loaded {sorted(loaded & set(HEAVY))}'


def test_client_loads_on_first_use_only():
    out = _fresh('import sys, lazyllm; a = "httpx" in sys.modules; lazyllm.client.Client; '
                 'print(a, "httpx" in sys.modules)')
    assert out.split() == ['False', 'True']


def test_online_modules_load_on_first_use_only():
    out = _fresh('import sys, lazyllm; a = "lazyllm.module.online" in sys.modules; '
                 'lazyllm.OnlineChatModule; print(a, "lazyllm.module.online" in sys.modules)')
    assert out.split() == ['False', 'True']


def test_public_names():
    assert sorted(lazyllm.__all__) == sorted([
        '__version__', 'config', 'errors', 'LazyLLMError', 'ModuleBase', 'Hook',
        'listen_stream', 'TrainableModule', 'deploy', 'launchers', 'hub',
        'pipeline', 'parallel', 'warp', 'switch', 'ifs', 'loop', 'bind',
        'package', 'diverter', 'graph', 'barrier', 'save_pipeline_result', 'ActionModule',
        'Prompter', 'ChatPrompter', 'AlpacaPrompter', 'EmptyPrompter', 'prompt', 'formatter',
        'client',
        'OnlineChatModule', 'OnlineEmbeddingModule', 'OnlineMultiModalModule', 'OnlineModule',
        'online', 'AutoModel', 'finetune', 'connect', 'deployments', 'Conversation',
        'unload', 'switch_device', 'plan'])
    for name in lazyllm.__all__:
        assert getattr(lazyllm, name) is not None
    assert lazyllm.formatter.JsonFormatter and lazyllm.formatter.EmptyFormatter


def test_import_creates_no_files(tmp_path):
    home = tmp_path / 'home'
    subprocess.run([sys.executable, '-c', 'import lazyllm; lazyllm.config["timeout"]'],
                   check=True, env={'HOME': str(home), 'PATH': '/usr/bin:/bin'})
    assert not home.exists()
