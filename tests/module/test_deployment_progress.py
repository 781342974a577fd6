"""While an engine loads, the wait shows progress with the engine's latest log line."""
import logging
import sys
from dataclasses import dataclass

from lazyllm.deploy import Engine
from lazyllm.hub import ModelType
from lazyllm.module import Deployment

SLOW_SERVER = '''
import http.server, os, sys, time
print("loading weights slowly", flush=True)
time.sleep(10.5)
os.chdir(sys.argv[1])
http.server.test(http.server.SimpleHTTPRequestHandler, port=int(sys.argv[2]), bind="127.0.0.1")
'''


@dataclass(frozen=True, repr=False)
class SlowEngine(Engine):
    """A real process that takes 10.5 s before /health answers (a static file)."""

    def argv(self, model_dir, *, host, port, served_name, options, python=sys.executable):
        return [python, '-c', SLOW_SERVER, model_dir, str(port)]


def test_wait_logs_progress_with_the_last_engine_line(tmp_path, caplog):
    folder = tmp_path / 'slow-model'
    folder.mkdir()
    (folder / 'model.safetensors').write_bytes(b'x')
    (folder / 'health').write_text('ok')
    engine = SlowEngine(name='slow', types=frozenset({ModelType.LLM}))
    dep = Deployment(folder, engine=engine, type='llm')
    caplog.set_level(logging.INFO, logger='lazyllm')
    try:
        dep.start()
        assert dep.state == 'running'
    finally:
        dep.stop()
    waits = [r.getMessage() for r in caplog.records if 'waiting for the slow engine' in
             r.getMessage()]
    assert waits and 'loading weights slowly' in waits[0]
