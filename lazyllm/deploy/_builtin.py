"""What every built-in engine shares: our own OpenAI-compatible server processes
(``python -m lazyllm.deploy.servers KIND``), launched with the options each engine row
declares. The rows live in files named after what they serve: ``_llm`` (transformers),
``_embed`` (embedding, rerank), ``_classify``, ``_stt`` (whisper) and ``_vlm``."""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass

from ..errors import InputError
from ._engine import Engine, Option
from ._failure import root_cause

_ERROR_TAG = 'lazyllm engine error:'
_DEVICE = Option(str, None, 'cpu, cuda, cuda:N, mps or auto (checked on the machine '
                 'the engine runs on, before loading)')
_DTYPE = Option(str, None, 'weights precision', ('auto', 'float32', 'bfloat16', 'float16'))
_REMOTE_CODE = Option(bool, None, "run the model folder's own code")
_BATCH_WAIT = Option(float, None, 'ms a batch waits for more requests after its first')
_MAX_BODY = Option(float, None, 'largest request body in MiB (default 4); a larger one is a 413')
_BODY_ENV = 'LAZYLLM_ENGINE_MAX_BODY_MB'     # read by servers/_app.py


@dataclass(frozen=True, repr=False)
class BuiltinEngine(Engine):
    kind: str = ''
    reports_identity: bool = True     # servers/_app.py sends the launch token
    binds_own_port: bool = True       # servers/__main__.py binds port 0 and says which

    def argv(self, model_dir: str, *, host: str, port: int | str, served_name: str,
             options: dict, python: str = sys.executable, aliases: tuple = ()) -> list[str]:
        return [python, '-m', 'lazyllm.deploy.servers', self.kind, '--model', str(model_dir),
                '--host', host, '--port', str(port), '--served-model-name', served_name,
                *(x for a in aliases for x in ('--alias', a)), *self.flags(options)]

    def validate(self, options: dict) -> dict:
        options = super().validate(options)
        if options.get('max_body_mb') is not None and options['max_body_mb'] <= 0:
            raise InputError(f'{self.name} option max_body_mb must be > 0, got '
                             f'{options["max_body_mb"]}.')
        return options

    def flags(self, options: dict) -> list[str]:
        out = {}
        for name, value in options.items():
            if name == 'max_body_mb':
                continue                          # an environment variable: see env()
            out[name] = json.dumps(value) if isinstance(value, dict) else value
        return super().flags(out)

    def env(self, options: dict) -> dict:
        body = options.get('max_body_mb')
        return {_BODY_ENV: repr(float(body))} if body is not None else {}

    def failure_reason(self, log: str) -> str:
        """Our servers print one line 'lazyllm engine error: <cause and fix>' before exiting
        (lazyllm.deploy.servers.__main__); a server that died some other way (an uncaught
        exception in a thread, a crash in a library) left a traceback, read for its root."""
        line = next((ln for ln in reversed(log.splitlines()) if _ERROR_TAG in ln), '')
        return line.split(_ERROR_TAG, 1)[1].strip() if line else root_cause(log)
