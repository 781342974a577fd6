"""Model files written for other tools, read as AutoModel config-map entries (or refused).

Why: people keep their models in files of the tool they used before. A model-compose file
(https://github.com/hanyeol/model-compose) describes each local model as a component with
``type: model``; its model part (task, driver, model, device, precision, quantization, context
length, LoRA adapters, sampling params, streaming) has a clear published schema, so it is
converted into entries of our own format, one per model component, named by the component's
``id`` (a lone ``component:`` without an id is named ``default``). What model-compose uses to
wire a component into its workflows (``action:`` input templates, ``output:``,
``max_concurrent_count``, ``preload``…) describes no model: lazyllm's flows do that job, so those
keys are accepted and not read (listed in ``WIRING``).

Files of tools whose format is not published in a form we can check (MuAI ``models.yaml``,
Xinference launch arguments) are not guessed at: their keys, and a nested ``models:`` block,
are a ConfigError that names the key and gives our spelling.
"""
from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any

from ..errors import ConfigError

__all__ = ['is_model_compose', 'from_model_compose', 'foreign_key_error', 'nested_models_error',
           'nearest', 'FOREIGN_KEYS', 'WIRING']

_TASKS = {'text-generation': 'llm', 'chat-completion': 'llm', 'text-to-text': 'llm',
          'text-embedding': 'embed', 'text-classification': 'classify',
          'image-to-text': 'vlm', 'image-text-to-text': 'vlm', 'speech-to-text': 'stt',
          'text-to-speech': 'tts', 'image-generation': 'sd'}
# the engine model-compose's default driver (huggingface / transformers) means, per type
_HF_ENGINE = {'llm': 'transformers', 'embed': 'embedding', 'classify': 'classify',
              'vlm': 'vlm'}
_QUANT = {'int8': '8bit', 'int4': '4bit', 'nf4': 'nf4'}
_PRECISION = ('auto', 'float32', 'float16', 'bfloat16')
_PARAMS = {'max_output_length': 'max_tokens', 'temperature': 'temperature', 'top_p': 'top_p',
           'top_k': 'top_k', 'repetition_penalty': 'repetition_penalty'}
_MODEL_KEYS = ('id', 'type', 'task', 'driver', 'model', 'device', 'precision', 'dtype',
               'quantization', 'max_seq_length', 'context_length', 'peft_adapters',
               'streaming', 'params', 'action', 'actions')
# keys that wire a component into model-compose workflows: they describe no model
WIRING = ('prompt', 'text', 'messages', 'image', 'images', 'audio', 'input', 'output',
          'max_concurrent_count', 'preload', 'on_demand', 'low_cpu_mem_usage',
          'fast_tokenizer', 'device_mode', 'batch_size', 'description', 'title', 'name')
_TOP = ('controller', 'workflow', 'workflows', 'component', 'components', 'listeners',
        'gateways', 'loggers', 'tracers')

# keys of other tools' model files, and how our format spells them
FOREIGN_KEYS = {
    'model_name': 'model: <hub id or path>',
    'model_path': 'model: <path>',
    'model_type': 'type: llm | embed | rerank | vlm | stt | tts | sd | classify',
    'model_uid': 'id: <id> (picked with config_id=)',
    'model_engine': 'framework: transformers | vllm | embedding | ...',
    'model_format': 'model: <the folder of that format> and framework: <its engine>',
    'model_size_in_billions': 'model: <the full model name, size included>',
    'flash_attention': 'deploy_config: {attention: flash_attention_2} (transformers engine)',
    'fp32': 'dtype: float32', 'fp16': 'dtype: float16', 'bf16': 'dtype: bfloat16',
    'n_gpu': 'deploy_config: {tensor_parallel_size: N} (vllm engine)',
    'replica': 'one entry per deployment (replicas are not run from the file)',
}


def nearest(key: Any, valid: Any) -> str:
    """' (did you mean 'x'?)' for the closest of ``valid``, or '' when none is close."""
    close = difflib.get_close_matches(str(key), [str(v) for v in valid], n=1, cutoff=0.6)
    return f' (did you mean {close[0]!r}?)' if close else ''


def foreign_key_error(key: str, where: str) -> ConfigError:
    return ConfigError(f'{where} uses {key!r}, a key of MuAI models.yaml / Xinference launch '
                       f'files, which lazyllm does not read: write {FOREIGN_KEYS[key]} instead '
                       f'(the config-map format of docs/automodel.md)')


def nested_models_error(path: Path, block: Any) -> ConfigError:
    names = sorted(map(str, block)) if isinstance(block, dict) else []
    what = f' ({", ".join(names[:5])}{", ..." if len(names) > 5 else ""})' if names else ''
    return ConfigError(f'{path} holds a nested "models:" block{what}, a layout of other tools\' '
                       f'models files: lazyllm reads a flat mapping of model name -> entry '
                       f'(docs/automodel.md). Remove the "models:" line and unindent its '
                       f'entries by one level')


def is_model_compose(data: dict) -> bool:
    """A model-compose file: ``component(s):`` next to a controller or workflow(s), or a list of
    components (our format never holds a list of mappings with a ``type`` under one name)."""
    if not ({'component', 'components'} & set(data)):
        return False
    if {'controller', 'workflow', 'workflows'} & set(data):
        return True
    comps = data.get('components')
    return isinstance(comps, list) and all(isinstance(c, dict) and 'type' in c for c in comps)


def from_model_compose(data: dict, path: Path) -> dict[str, list[dict]]:
    """Our entries (name -> [entry]) for the ``type: model`` components of a model-compose
    file; ConfigError naming the component and key for what has no lazyllm equivalent."""
    comps = data.get('components', [])
    if isinstance(comps, dict):      # model-compose also takes {id: component}
        comps = [{'id': k, **v} if isinstance(v, dict) else v for k, v in comps.items()]
    if 'component' in data:
        comps = [data['component'], *comps] if isinstance(comps, list) else comps
    if not isinstance(comps, list) or not all(isinstance(c, dict) for c in comps):
        raise ConfigError(f'{path}: model-compose "components:" must be a list of mappings; '
                          f'fix the file')
    table: dict[str, list[dict]] = {}
    for c in comps:
        if c.get('type', 'model') != 'model':
            continue      # http-client, shell, vector-store…: not models
        name = str(c.get('id', 'default'))
        if name in table:
            raise ConfigError(f'{path}: two model components are named {name!r}: give each '
                              f'its own id')
        table[name] = [_component(c, f'model-compose component {name!r} of {path}', path)]
    if not table:
        raise ConfigError(f'{path} is a model-compose file without a model component '
                          f'(type: model): there is no model to build from it')
    return table


def _component(c: dict, where: str, path: Path) -> dict:
    driver = c.get('driver', 'huggingface')
    if driver not in ('huggingface', 'vllm'):
        raise ConfigError(f'{where}: driver {driver!r} has no lazyllm engine: use driver '
                          f'huggingface (our transformers engines) or vllm')
    for key in c:
        if key not in _MODEL_KEYS and key not in WIRING:
            raise ConfigError(f'{where}: key {key!r} has no lazyllm equivalent'
                              f'{nearest(key, _MODEL_KEYS)}; the model keys read are '
                              f'{", ".join(_MODEL_KEYS)}. Remove it or fix its spelling')
    task = c.get('task')
    if task not in _TASKS:
        raise ConfigError(f'{where}: task {task!r} has no lazyllm model type{nearest(task, _TASKS)}'
                          f'; the tasks read are {", ".join(_TASKS)}')
    entry: dict = {'source': 'local', 'type': _TASKS[task], 'model': _model(c, where, path)}
    driver = c.get('driver', 'huggingface')
    if driver == 'vllm':
        entry['framework'] = 'vllm'
    elif entry['type'] in _HF_ENGINE:
        entry['framework'] = _HF_ENGINE[entry['type']]
    precision = c.get('precision', c.get('dtype'))
    if precision is not None:
        if precision not in _PRECISION:
            raise ConfigError(f'{where}: precision {precision!r} is none of '
                              f'{", ".join(_PRECISION)} (int8/int4 go under quantization:)')
        entry['dtype'] = precision
    if c.get('device') is not None:
        entry['device'] = c['device']
    if c.get('quantization') is not None:
        q = c['quantization']
        if q not in _QUANT:
            raise ConfigError(f'{where}: quantization {q!r} has no lazyllm equivalent: use '
                              f'{", ".join(_QUANT)}')
        entry['quantization'] = _QUANT[q]
    length = c.get('context_length', c.get('max_seq_length'))
    if length is not None:
        entry['max_context_length'] = length
    if c.get('peft_adapters'):
        entry['adapters'] = _adapters(c['peft_adapters'], where, path)
    _action(c, entry, where)
    return entry


def _model(c: dict, where: str, path: Path) -> str:
    model = c.get('model')
    if isinstance(model, str) and model:
        return model
    if not isinstance(model, dict):
        raise ConfigError(f'{where}: model must be a hub id, a path or a mapping '
                          f'{{provider, repository | path}}; got {model!r}')
    extra = sorted(set(model) - {'provider', 'repository', 'path', 'format'})
    if extra:
        raise ConfigError(f'{where}: model key(s) {extra} have no lazyllm equivalent; keep '
                          f'provider, repository or path')
    if model.get('format', 'safetensors') == 'gguf':
        raise ConfigError(f'{where}: a GGUF model needs a llama.cpp engine, which lazyllm does '
                          f'not have yet: use the model\'s safetensors folder')
    provider = model.get('provider', 'huggingface')
    if provider == 'huggingface' and model.get('repository'):
        return str(model['repository'])
    if provider == 'local' and model.get('path'):
        # relative to the file, as model-compose reads it
        return os.path.normpath(path.parent / os.path.expanduser(str(model['path'])))
    raise ConfigError(f'{where}: model provider {provider!r} needs repository: (huggingface) '
                      f'or path: (local); other providers are not read')


def _adapters(specs: Any, where: str, path: Path) -> dict:
    if not isinstance(specs, list):
        specs = [specs]
    out = {}
    for s in specs:
        if not isinstance(s, dict) or s.get('type', 'lora') != 'lora' or not s.get('model'):
            raise ConfigError(f'{where}: each peft_adapters item must be {{type: lora, name, '
                              f'model, weight}}; got {s!r}')
        name = str(s.get('name') or Path(str(s['model'])).name)
        folder = os.path.normpath(path.parent / os.path.expanduser(str(s['model'])))
        out[name] = [folder, float(s.get('weight', 1.0))]
    return out


def _action(c: dict, entry: dict, where: str) -> None:
    """streaming and sampling params, at the component level or in its single action."""
    action = c.get('action')
    if not isinstance(action, dict):
        action = {}
    for a in c.get('actions') or []:
        if isinstance(a, dict) and ({'params', 'streaming'} & set(a)):
            raise ConfigError(f'{where}: params/streaming in one of several actions cannot be '
                              f'one module\'s defaults: put them in a single action:')
    streaming = action.get('streaming', c.get('streaming'))
    if streaming is not None:
        entry['stream'] = bool(streaming)
    params = {**(c.get('params') or {}), **(action.get('params') or {})}
    if not params:
        return
    if entry.get('framework') != 'transformers':
        raise ConfigError(f'{where}: sampling params are read for text models on the '
                          f'huggingface driver only (our transformers engine); set them per '
                          f'call, or on a share: m.share(temperature=...)')
    defaults = {}
    for key, value in params.items():
        if key == 'do_sample':
            if value is False:
                defaults['temperature'] = 0.0
            continue
        if key not in _PARAMS:
            raise ConfigError(f'{where}: params key {key!r} has no lazyllm equivalent'
                              f'{nearest(key, [*_PARAMS, "do_sample"])}; read are '
                              f'{", ".join([*_PARAMS, "do_sample"])}')
        defaults[_PARAMS[key]] = value
    entry['deploy_config'] = {'sampling_defaults': defaults}
