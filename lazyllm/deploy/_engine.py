"""Engines: how to serve a model. An engine turns (model folder, options, host, port) into an
argv, and says which model types it serves, what it needs installed, and where its health
endpoint is. Engines are entries in one table (``engines``, a ``lazyllm._registry.Registry``);
built-ins register the same way a plugin does (``register_engine``; a package declares an
``Engine`` instance in the entry-point group ``lazyllm.engines``), and ``get_engine('vllm')``
or ``lazyllm.deploy.vllm`` finds one.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Callable

from .._options import Option, validate_options
from .._registry import Registry
from .._requires import missing_modules
from ..errors import DeployError, InputError
from ..hub import DTYPE_BYTES, ModelSize, ModelType
from ._failure import root_cause
from ._footprint import MIB, Footprint, held_dtype, quantized_bytes

__all__ = ['Option', 'Engine', 'register_engine', 'get_engine', 'engines', 'check_lora_shape']


@dataclass(frozen=True)
class Engine:
    """An engine: see the module docstring. Subclasses override ``argv``."""
    name: str
    types: frozenset
    options: dict = field(default_factory=dict)
    requires: tuple = ()              # modules the engine's interpreter must have
    install_hint: str = "pip install 'lazyllm-model-layer[local]'"
    health_path: str = '/health'

    def validate(self, options: dict) -> dict:
        """Options checked against the table; unknown names list the valid ones."""
        return validate_options(f'{self.name} engine', self.options, options)

    def serves(self, model_type: ModelType) -> bool:
        return model_type in self.types

    api_key_env: str = 'LAZYLLM_ENGINE_API_KEY'   # where the engine reads its API key
    # answers with the launch token lazyllm gives it, so an impostor on its port is refused
    # (deploy/_identity.py); an engine that cannot is trusted on its /health alone
    reports_identity: bool = False
    # given port 0, binds a free port itself and prints the launcher's endpoint line with it
    # (launch/_node.py), so no other process can take a port picked for it in advance
    binds_own_port: bool = False
    # serves GGUF files (llama.cpp's format) instead of Hugging Face folders: auto picks such
    # an engine for a GGUF model, and a model of the other format is refused before launch
    reads_gguf: bool = False
    # memory the planner counts (deploy/_footprint.py): the engine process's own resident
    # memory with a weightless model, in MiB, measured on a CPU (bench/bench_plan.py)...
    base_memory_mb: int = 0
    # ...and whether loading holds the stored weights beside the copy it makes in another
    # dtype (transformers' from_pretrained) rather than converting tensor by tensor
    holds_stored_copy: bool = False

    def loads_adapters(self, options: dict) -> bool:
        """Whether an engine launched with ``options`` loads and unloads LoRA adapters while
        it runs (``POST /v1/load_lora_adapter``, ``/v1/unload_lora_adapter``): a new adapter
        then needs no restart."""
        return False

    def default_python(self) -> str:
        """The interpreter this engine runs under unless the caller names one ('' = ours)."""
        return ''

    def env(self, options: dict) -> dict:
        """Environment variables the engine process needs for ``options``."""
        return {}

    def default_adapter(self, options: dict) -> str | None:
        """The model name calls without ``share(adapter=)`` use when it is not the base's
        served name (None): the built-in engine's weighted adapter mix."""
        return None

    def request_adapter(self, model: str, options: dict
                        ) -> Callable[[dict, str | None], dict] | None:
        """For an engine launched on ``model`` with ``options``: a function of (a chat call's
        request fields, the LoRA adapter the call names or None) that gives the fields as that
        engine reads them, or raises an InputError for a field it would silently ignore; None
        when it takes the OpenAI fields as they are and adapters as model names (ours and
        vLLM refuse, with a 400, what they cannot honour)."""
        return None

    def footprint(self, size: ModelSize, options: dict, *, context: int, concurrency: int,
                  gpu: bool = False) -> Footprint:
        """The memory this engine takes for a model of ``size`` served with ``options``:
        the weights in the dtype it loads (``dtype=``; its default on this device), a KV
        cache in that dtype for ``concurrency`` sequences of ``context`` tokens (caches grow
        as used: this is the most they reach), the loading peak, and its own memory."""
        dtype = held_dtype(size, options.get('dtype'), gpu=gpu)
        weights = quantized_bytes(size, options.get('quantization')) or size.weights_at(dtype)
        value = 2 if size.gguf else DTYPE_BYTES.get(dtype, 4)
        loading = size.weight_bytes if self.holds_stored_copy and weights != size.weight_bytes \
            else 0
        return Footprint(weights, size.kv_bytes(context, concurrency, value), loading,
                         self.base_memory_mb * MIB, dtype, context, concurrency,
                         'float16' if size.gguf else dtype)

    def sized(self, options: dict, footprint: Footprint, free: int, total: int) -> dict:
        """``options`` with the engine's memory settings sized to the machine (``free`` of
        ``total`` bytes) where the user set none; as given for an engine that allocates as
        it goes (vLLM overrides this: it reserves its KV cache at start)."""
        return options

    def failure_reason(self, log: str) -> str:
        """The engine's own reason for a failed start, found in its log ('' if none): by
        default the root exception of a Python traceback (deploy/_failure.py); an engine that
        reports otherwise, or re-raises with messages of its own, overrides this."""
        return root_cause(log)

    def check_installed(self, python: str = sys.executable) -> None:
        """Fail before launching when this interpreter lacks what the engine imports."""
        missing = missing_modules(self.requires, python)
        if missing:
            raise DeployError(f'the {self.name} engine needs {", ".join(missing)}, not '
                              f'installed in {python}: {self.install_hint}')

    def flags(self, options: dict) -> list[str]:
        out: list[str] = []
        for name, value in options.items():
            flag = self.options[name].flag or '--' + name.replace('_', '-')
            if value is True:
                out.append(flag)
            elif value is not False:
                out += [flag, str(value)]
        return out

    def argv(self, model_dir: str, *, host: str, port: int | str, served_name: str,
             options: dict, python: str = sys.executable, aliases: tuple = ()) -> list[str]:
        """The engine's command line. ``port`` is a number or a launcher placeholder
        (``lazyllm.launch.PORT``) filled in where the engine runs; ``served_name`` is the
        model id it answers with; ``aliases`` are other names a request may give as
        ``model``."""
        raise NotImplementedError(f'engine {self.name} does not say how to launch itself')

    def __repr__(self) -> str:
        return f'<engine {self.name}: {", ".join(sorted(t.value for t in self.types))}>'


def check_lora_shape(engine: str, lora: dict, name_chars: str = '') -> None:
    """An engine's ``lora`` option is ``{name: path}``: names non-empty strings (without any
    of ``name_chars``, which that engine's flags cannot carry), paths str or PathLike."""
    for name, path in lora.items():
        if not isinstance(name, str) or not name or any(c in name for c in name_chars):
            without = f' without {" or ".join(map(repr, name_chars))}' if name_chars else ''
            raise InputError(f'{engine} option lora: adapter names are non-empty strings'
                             f'{without}, got {name!r}.')
        if not isinstance(path, (str, os.PathLike)):
            raise InputError(f'{engine} option lora: the path of adapter {name!r} must be a '
                             f'str, got {path!r}.')


def _admit(name: str, engine: Engine) -> None:
    if not isinstance(engine, Engine):
        raise InputError(f'engine {name!r} must be a lazyllm.deploy.Engine instance, not '
                         f'{type(engine).__name__}: subclass Engine and register an instance')


engines: Registry[Engine] = Registry('engine', 'lazyllm.engines', admit=_admit)


def register_engine(engine: Engine, *, replace: bool = False) -> Engine:
    """Add ``engine`` to the table under ``engine.name``; a name already taken is an
    InputError unless ``replace=True``."""
    return engines.register(engine, replace=replace)


def get_engine(engine: 'str | Engine') -> Engine:
    """An engine by object or name (``'vllm'``); an InputError listing the known ones."""
    if isinstance(engine, Engine):
        return engine
    return engines.get(engine)
