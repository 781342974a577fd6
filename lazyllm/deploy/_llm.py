"""The built-in LLM engine, ``transformers``: chat and completions on a transformers model
(``lazyllm.deploy.servers.llm``), with LoRA adapters, tools and constrained output."""
from __future__ import annotations

import sys
from dataclasses import dataclass

from ..errors import InputError
from ..hub import ModelType
from ._builtin import _DEVICE, _DTYPE, _MAX_BODY, _REMOTE_CODE, BuiltinEngine
from ._engine import Option, register_engine

__all__ = ['transformers', 'TransformersEngine']

_SAMPLING_DEFAULTS = ('temperature', 'top_p', 'top_k', 'min_p', 'repetition_penalty',
                      'max_tokens')


@dataclass(frozen=True, repr=False)
class TransformersEngine(BuiltinEngine):
    """The LLM server, with LoRA ``adapters=`` (see ``servers/_adapters``): checked here, in
    the lazyllm process, before the engine loads anything."""

    def validate(self, options: dict) -> dict:
        from .servers import _adapters
        options = super().validate(options)
        if 'adapters' in options:
            options['adapters'] = _adapters.check_options(options['adapters'])
        elif 'adapter_mix' in options:
            raise InputError('transformers option adapter_mix needs adapters= (the LoRA '
                             "adapters to mix), e.g. adapters={'sql': ('/runs/sql', 0.7)}.")
        defaults = options.get('sampling_defaults')
        if defaults is not None and set(defaults) - set(_SAMPLING_DEFAULTS):
            raise InputError(f'transformers option sampling_defaults takes '
                             f'{", ".join(_SAMPLING_DEFAULTS)}; got {sorted(defaults)}.')
        return options

    def default_adapter(self, options: dict) -> str | None:
        from .servers._adapters import MIX
        return MIX if options.get('adapters') else None

    def flags(self, options: dict) -> list[str]:
        out = super().flags({k: v for k, v in options.items() if k != 'adapters'})
        for name, (path, weight) in (options.get('adapters') or {}).items():
            out += ['--adapter', name, repr(float(weight)), path]
        return out

    def argv(self, model_dir: str, *, host: str, port: int | str, served_name: str,
             options: dict, python: str = sys.executable, aliases: tuple = ()) -> list[str]:
        if options.get('adapters'):
            from .servers._adapters import check_folders
            check_folders(model_dir, served_name, options['adapters'])
        return super().argv(model_dir, host=host, port=port, served_name=served_name,
                            options=options, python=python, aliases=aliases)


transformers = register_engine(TransformersEngine(
    name='transformers', kind='llm', types=frozenset({ModelType.LLM}),
    base_memory_mb=600, holds_stored_copy=True,
    requires=('torch', 'transformers', 'fastapi', 'uvicorn'),
    options={
        'dtype': _DTYPE,
        'device': _DEVICE,
        'quantization': Option(str, None, '8bit, 4bit, nf4 (bitsandbytes, on a CUDA GPU) or '
                               'gptq, awq (a folder of pre-quantized weights)',
                               ('8bit', '4bit', 'nf4', 'gptq', 'awq')),
        'device_map': Option(str, None, 'spread the layers over every visible GPU '
                             '(accelerate; multi-GPU); device= is then ignored',
                             ('auto', 'balanced', 'balanced_low_0', 'sequential')),
        'attention': Option(str, None, 'attention implementation; flash_attention_2 falls '
                            'back to sdpa, with a log line, where it cannot run',
                            ('auto', 'sdpa', 'eager', 'flash_attention_2')),
        'max_batch': Option(int, None, 'most requests generated together (dynamic batching)'),
        'max_model_len': Option(int, None, "context length (default: the model's own)"),
        'default_max_tokens': Option(int, None, 'answer budget when a call gives none'),
        'chat_template': Option(str, None, "used when the tokenizer has none: a built-in "
                                'template (chatml, qwen, llama, llama2) or a Jinja file'),
        'threads': Option(int, None, 'torch CPU threads'),
        'trust_remote_code': _REMOTE_CODE,
        'log_requests': Option(bool, None, 'log request bodies (prompts) to the engine log'),
        'adapters': Option(dict, None, "LoRA adapters {name: path or (path, weight)}: each is "
                           "served by name, their weighted mix as 'combined' (the default)"),
        'adapter_mix': Option(str, None, "how adapters= are mixed (peft add_weighted_adapter "
                              "combination_type; default 'cat': the exact weighted sum)",
                              ('cat', 'linear', 'svd')),
        'tool_parser': Option(str, None, "how the model writes tool calls (default: chosen "
                              "from its chat template)", ('auto', 'hermes', 'mistral',
                                                          'llama3_json')),
        'generation_config': Option(str, None, "'auto' (default): sampling defaults from the "
                                    "folder's generation_config.json, as vLLM; 'none': "
                                    "OpenAI's defaults", ('auto', 'none')),
        'sampling_defaults': Option(dict, None, 'defaults over the generation config, e.g. '
                                    "{'temperature': 0.7, 'max_tokens': 256}"),
        'max_body_mb': _MAX_BODY,
    }))
