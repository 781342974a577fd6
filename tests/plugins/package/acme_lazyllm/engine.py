"""``plugin_echo``: lazyllm's built-in LLM server under the plugin's own engine name, the way
a package wraps a server it did not write."""
from __future__ import annotations

import sys
from dataclasses import dataclass

import lazyllm
from lazyllm.deploy import Engine
from lazyllm.hub import ModelType

_SERVER = lazyllm.deploy.transformers


@dataclass(frozen=True, repr=False)
class EchoEngine(Engine):
    reports_identity: bool = True     # the built-in server answers with the launch token
    binds_own_port: bool = True       # and, given port 0, binds a free port itself

    def argv(self, model_dir: str, *, host: str, port: int | str, served_name: str,
             options: dict, python: str = sys.executable, aliases: tuple = ()) -> list[str]:
        return _SERVER.argv(model_dir, host=host, port=port, served_name=served_name,
                            options=options, python=python, aliases=aliases)

    def failure_reason(self, log: str) -> str:
        return _SERVER.failure_reason(log)


echo = EchoEngine(name='plugin_echo', types=frozenset({ModelType.LLM}),
                  requires=_SERVER.requires,
                  options={'max_batch': _SERVER.options['max_batch']})
