"""Run by test_plugins.py in a fresh interpreter whose PYTHONPATH holds the acme-lazyllm
package and its dist-info: uses each of its plugins through lazyllm's public API only, and
prints what it saw as one JSON line (``sys.argv``: the tiny model's folder, a runs folder)."""
import contextlib
import io
import json
import os
import sys
from pathlib import Path

import lazyllm
from lazyllm.cli import main as cli
from lazyllm.errors import ConfigError, InputError
from lazyllm.finetune import get_method, load_trainset, run_finetune

KEY = 'sk-plugin-test'
PROMPT = 'the quick brown fox'
CHAT = [{'messages': [{'role': 'user', 'content': 'hi'}, {'role': 'assistant', 'content': 'ho'}]}]


def engine_and_supplier(model: str, seen: dict) -> None:
    engine = lazyllm.deploy.get_engine('plugin_echo')
    seen['engines'] = lazyllm.deploy.engines.names()
    try:
        lazyllm.deploy.register_engine(engine)
    except InputError as e:
        seen['duplicate'] = str(e)
    seen['replaced'] = lazyllm.deploy.register_engine(engine, replace=True) is engine
    try:
        lazyllm.deploy.get_engine('plugin_broken')
    except ConfigError as e:
        seen['broken'] = str(e)
    m = lazyllm.TrainableModule(model).deploy_method(engine, api_key=KEY).start()
    try:
        seen['engine_answer'] = m(PROMPT, temperature=0, max_tokens=6)
        seen['supplier_loaded_before_use'] = 'acme_lazyllm.supplier' in sys.modules
        os.environ['ACME_BASE_URL'] = m.url
        os.environ['ACME_MODEL'] = m.deployment.served_name
        chat = lazyllm.OnlineChatModule(source='plugin_acme', api_key=KEY)
        seen['supplier'] = (chat.source, chat.base_url, m.url)
        seen['supplier_answer'] = chat(PROMPT, temperature=0, max_tokens=6)
    finally:
        m.stop()


def finetune_and_launcher(model: str, runs: str, seen: dict) -> None:
    method = get_method('acme_copy')
    run = run_finetune(method=method, task='llm', base=Path(model),
                       trainset=load_trainset(CHAT, 'llm'), options=method.validate({}),
                       root=Path(runs), launcher='acme_local')
    seen['finetune'] = json.loads((run / 'metrics.json').read_text(encoding='utf-8'))
    seen['launcher'] = lazyllm.launchers.acme_local.__name__


def command(seen: dict) -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        seen['command_exit'] = cli(['acme-hello', '--name', 'plugins'])
    seen['command_output'] = out.getvalue()


if __name__ == '__main__':
    seen = {'imported_by_lazyllm': 'acme_lazyllm' in sys.modules}
    engine_and_supplier(sys.argv[1], seen)
    finetune_and_launcher(sys.argv[1], sys.argv[2], seen)
    command(seen)
    print(json.dumps(seen))
