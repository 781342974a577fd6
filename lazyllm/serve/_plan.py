"""The memory planner: will a model fit where its engine would run, and what would make it.

    >>> print(lazyllm.plan('Qwen/Qwen2.5-7B-Instruct', max_model_len=8192))
    model      Qwen/Qwen2.5-7B-Instruct (huggingface file list and config.json: 7.6B …)
    engine     transformers on cpu
    weights    28.4 GiB   float32
    …
    verdict    does not fit: 36.0 GiB needed, 19.8 GiB free on this machine
    fixes      1. dtype='bfloat16' (needs 28.9 GiB) …

The figures are the model's size (hub/_sizes.py: safetensors headers, a hub's file list and
config.json, or a GGUF header — never the weights themselves), multiplied out by the engine
that would serve it (``Engine.footprint``: the dtype it loads, the KV cache it allocates,
its loading peak, its own measured memory), against the memory free where it would run
(launch/_memory.py). ``Deployment.start()`` asks for this verdict before it downloads or
launches anything and raises ``WontFitError`` with the table and the fixes; a cluster
launcher cannot see its node from here, so the job checks on the node before loading
(launch/_node.py). ``lazyllm.config['preflight'] = False`` turns the check off.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from .._config import config
from .._log import get_logger
from ..deploy import AutoEngine, Engine, Footprint, engines, get_engine, pick_engine
from ..errors import DeployError, InputError, ModelNotFoundError, WontFitError
from ..hub import ModelSize, ModelType, model_size
from ..launch import Memory, gib, machine_memory

__all__ = ['Plan', 'plan', 'plan_for', 'preflight', 'engine_for']

_MIN_CONTEXT = 256            # a fix never proposes fewer tokens than this
# bytes per parameter of llama.cpp's usual quantizations (blocks of 32 values with scales)
_GGUF_BYTES = (('Q8_0', 1.0625), ('Q4_K_M', 0.6))


@dataclass(frozen=True)
class Plan:
    """The planner's verdict for one deployment (see the module docstring). ``free`` is the
    memory free where the engine runs (None: on a node a cluster picks, checked there)."""
    model: str
    engine: str
    device: str
    size: ModelSize
    footprint: Footprint
    free: int | None
    where: str
    fixes: tuple = ()
    options: dict = field(default_factory=dict)   # the engine options, sized for the machine

    @property
    def need(self) -> int:
        return self.footprint.total

    @property
    def fits(self) -> bool | None:
        """True or False; None when the memory where it runs is not known here."""
        return None if self.free is None else self.need <= self.free

    def verdict(self) -> str:
        if self.fits is None:
            return f'{gib(self.need)} needed; {self.where} checks it before loading'
        if self.fits:
            return f'fits: {gib(self.need)} needed, {gib(self.free or 0)} free {self.where}'
        return f'does not fit: {gib(self.need)} needed, {gib(self.free or 0)} free {self.where}'

    def rows(self) -> list[tuple[str, str]]:
        s, f = self.size, self.footprint
        count = f'{s.params / 1e9:.2f}B parameters, ' if s.params else ''
        kv = (f'{f.kv_tokens} tokens x {f.kv_sequences} sequence'
              f'{"s" if f.kv_sequences != 1 else ""}, {f.kv_dtype}' if f.kv_cache else
              'none (this model keeps no KV cache)')
        rows = [('model', f'{self.model} ({s.source}: {count}{gib(s.weight_bytes)} as '
                          f'{s.dtype})'),
                ('engine', f'{self.engine} on {self.device}'),
                ('weights', f'{gib(f.weights)}  {f.dtype}'),
                ('KV cache', f'{gib(f.kv_cache) if f.kv_cache else 0}  {kv}'),
                ('loading', f'{gib(f.loading)}  (the stored weights, held while converted)'
                 if f.loading else '0'),
                ('engine', f'{gib(f.engine)}  (its own memory, measured)'),
                ('total', gib(self.need)),
                ('verdict', self.verdict())]
        rows += [('fixes' if i == 0 else '', f'{i + 1}. {fix}') for i, fix in enumerate(self.fixes)]
        return rows

    def table(self) -> str:
        return '\n'.join(f'{k:<10} {v}'.rstrip() for k, v in self.rows())

    __str__ = table

    def as_dict(self) -> dict:
        f = self.footprint
        return {'model': self.model, 'engine': self.engine, 'device': self.device,
                'params': self.size.params, 'stored_bytes': self.size.weight_bytes,
                'stored_dtype': self.size.dtype, 'source': self.size.source,
                'dtype': f.dtype, 'weights': f.weights, 'kv_cache': f.kv_cache,
                'kv_tokens': f.kv_tokens, 'kv_sequences': f.kv_sequences,
                'loading': f.loading, 'engine_memory': f.engine, 'total': self.need,
                'free': self.free, 'where': self.where, 'fits': self.fits,
                'fixes': list(self.fixes)}

    def refusal(self) -> str:
        """The WontFitError text: the table, then what to do."""
        return (f'{self.model} would not fit: it needs about {gib(self.need)} and '
                f'{gib(self.free or 0)} is free {self.where}. Nothing was downloaded or '
                f'started.\n{self.table()}\n(The estimate may be off for an unusual model: '
                "lazyllm.config['preflight'] = False, or LAZYLLM_PREFLIGHT=0, skips the "
                'check.)')


def engine_for(engine: Any, kind: ModelType, gguf: bool, model: Any = None) -> Engine:
    """The engine that serves a model of type ``kind`` (a GGUF model when ``gguf``) under
    the choice ``engine`` (an Engine, a name, or auto/None), checked to serve it: a
    DeployError naming the engine to use otherwise. ``model`` is its file or folder, None
    for a hub repo not downloaded yet."""
    if isinstance(engine, AutoEngine) or engine is None:
        if gguf and model is None:             # a hub repo of GGUF files
            return engines.get('llamacpp')
        return pick_engine(kind, model)
    engine = get_engine(engine)
    where = model or 'this model'
    if engine.reads_gguf != gguf:
        raise DeployError(
            f'the {engine.name} engine serves GGUF files, and {where} is not one: serve '
            'it with lazyllm.deploy.auto, transformers or vllm, or pass a .gguf file.'
            if engine.reads_gguf else
            f'{where} is a GGUF model, which the {engine.name} engine does not read: '
            'serve it with lazyllm.deploy.llamacpp (lazyllm.deploy.auto picks it).')
    if not engine.serves(kind):
        raise DeployError(f'the {engine.name} engine does not serve {kind.value} '
                          f'models (it serves {", ".join(t.value for t in engine.types)}): '
                          'use lazyllm.deploy.auto, or pass type= if the type is wrong.')
    return engine


def _gpu_engine(engine: Engine, options: dict, memory: Memory) -> bool:
    if not memory.gpus:
        return False
    if engine.name == 'vllm':
        return True
    device = str(options.get('device') or 'cpu')
    return device.startswith('cuda') or device == 'auto'


class _Planner:
    """One plan's inputs, so that each fix is the same sum with one thing changed."""

    def __init__(self, size: ModelSize, engine: Engine, options: dict, context: int,
                 concurrency: int, gpu: bool, gpus: int):
        self.size, self.engine, self.options = size, engine, options
        self.context, self.concurrency, self.gpu, self.gpus = context, concurrency, gpu, gpus

    def footprint(self, **change: Any) -> Footprint:
        options = {**self.options, **change.pop('options', {})}
        context = change.pop('context', self.context)
        return self.engine.footprint(change.pop('size', self.size), options, context=context,
                                     concurrency=self.concurrency, gpu=self.gpu)

    def fixes(self, room: int) -> list[str]:
        """What would make the model fit in ``room`` bytes, in the order the issue of memory
        is usually solved: a shorter context, half precision, quantization, more GPUs,
        another machine."""
        out, base = [], self.footprint()
        if base.kv_cache and not any(self.options.get(k) for k in (
                'kv_cache_memory_bytes', 'kv_cache_space')):
            per_token = base.kv_cache / max(base.kv_tokens, 1)
            # a tenth of the room is left free: the estimate is an estimate
            tokens = int((room * 0.9 - (base.total - base.kv_cache)) / per_token) // 256 * 256
            tokens = min(tokens, base.kv_tokens - 256)
            if tokens >= _MIN_CONTEXT:
                name = 'ctx_size' if 'ctx_size' in self.engine.options else 'max_model_len'
                fp = self.footprint(context=tokens)
                out.append(f'{name}={tokens} (KV cache {gib(fp.kv_cache)}; needs '
                           f'{gib(fp.total)})')
        if 'dtype' in self.engine.options and base.dtype == 'float32':
            fp = self.footprint(options={'dtype': 'bfloat16'})
            if fp.total <= room:
                out.append(f"dtype='bfloat16' (weights {gib(fp.weights)}; needs {gib(fp.total)})")
        out += self._quantized(room)
        if self.gpu:
            per_gpu = base.weights + base.kv_cache
            n = 2
            while n <= 8 and per_gpu / n > room:
                n *= 2
            out.append(f'tensor_parallel_size={n} on {n} GPUs (about {gib(per_gpu / n)} each)')
        out.append(f'launch it where {gib(base.total)} is free: '
                   'deploy_method(..., launcher=lazyllm.launchers.slurm(...)) or '
                   'lazyllm.launchers.ray(...) on a node with more memory')
        return out

    def _quantized(self, room: int) -> list[str]:
        if self.size.gguf or not self.size.params:
            return []
        option = self.engine.options.get('quantization')
        if self.gpu and option is not None and '8bit' in (option.choices or ()):
            for q in ('8bit', '4bit'):
                fp = self.footprint(options={'quantization': q})
                if fp.total <= room:
                    return [f"quantization='{q}' (weights {gib(fp.weights)}; needs "
                            f'{gib(fp.total)})']
            return []
        llamacpp = engines.get('llamacpp', None)
        if llamacpp is None or self.size.type != ModelType.LLM:
            return []
        for name, per_param in _GGUF_BYTES:
            size = replace(self.size, weight_bytes=int(self.size.params * per_param), dtype=name,
                           gguf=True, params=0)
            fp = llamacpp.footprint(size, {}, context=self.context,
                                    concurrency=self.concurrency)
            if fp.total <= room:
                return [f'{"8" if name == "Q8_0" else "4"}-bit: serve a {name} GGUF with '
                        f'lazyllm.deploy.llamacpp (`lazyllm models convert MODEL --to gguf '
                        f'--quantization {name.lower()}`; needs {gib(fp.total)})']
        return []


def _check(name: str, value: Any, low: int = 1) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                              or value < low):
        raise InputError(f'{name} must be an int >= {low}, got {value!r}.')


def plan(model: str, *, engine: Any = None, dtype: str | None = None,
         max_model_len: int | None = None, concurrency: int = 1, gpus: int | None = None,
         options: dict | None = None, source: str | None = None,
         quantization: str | None = None, launcher: Any = None,
         type: Any = None) -> Plan:
    """Whether ``model`` fits where it would run, the parts of its memory, and the fixes
    when it does not (see the module docstring). Reads sizes only: nothing is downloaded
    (a hub's file list and config.json are fetched for a model that is not local).

    ``max_model_len``: tokens of context (default: the engine option, else the model's);
    ``concurrency``: sequences of that length held at once; ``gpus``: plan for tensor
    parallelism over this many GPUs."""
    _check('max_model_len', max_model_len)
    _check('concurrency', concurrency)
    _check('gpus', gpus)
    options = dict(options or {})
    if dtype is not None:
        options['dtype'] = dtype
    if quantization is not None:
        options['quantization'] = quantization
    size, folder = model_size(model, source=source, quantization=options.get('quantization'))
    kind = ModelType.parse(type) if type else size.type
    chosen = engine_for(engine, kind, size.gguf, folder)
    if gpus:
        if 'tensor_parallel_size' not in chosen.options:
            raise InputError(f'gpus={gpus}: the {chosen.name} engine does not split a model '
                             'over GPUs; plan it with engine="vllm" (tensor parallelism).')
        options['tensor_parallel_size'] = gpus
    options = chosen.validate(options)
    return plan_for(str(model), size, chosen, options, max_model_len=max_model_len,
                    concurrency=concurrency, launcher=launcher)


def plan_for(model: str, size: ModelSize, engine: Engine, options: dict, *,
             max_model_len: int | None = None, concurrency: int = 1,
             launcher: Any = None) -> Plan:
    """The plan of a model already sized and given an engine (``Deployment`` calls this)."""
    from ..launch import get_launcher
    runner = get_launcher(launcher)
    local = runner.name == 'local'
    memory = machine_memory() if local else Memory(0, 0)
    gpu = _gpu_engine(engine, options, memory)
    parallel = int(options.get('tensor_parallel_size') or 1)
    context = (max_model_len or options.get('max_model_len') or options.get('ctx_size')
               or size.context or 2048)
    planner = _Planner(size, engine, options, context, concurrency, gpu, parallel)
    footprint = planner.footprint()
    if not local:
        free, where = None, f'the node the {runner.name} launcher picks'
    elif gpu:
        free = min(f for f, _ in memory.gpus[:parallel])
        where = f'on {"each of " if parallel > 1 else ""}{parallel} GPU' + \
            ('s' if parallel > 1 else '')
        footprint = replace(footprint, weights=math.ceil(footprint.weights / parallel),
                            kv_cache=math.ceil(footprint.kv_cache / parallel), engine=0,
                            loading=0)
    else:
        free, where = memory.free, 'on this machine'
    sized = options
    if local and not gpu:     # an engine that reserves memory at start is sized to what is free
        sized = engine.sized(options, footprint, memory.free, memory.total)
        footprint = planner.footprint(options=sized)
    fixes = tuple(planner.fixes(free)) if free is not None and footprint.total > free else ()
    return Plan(model, engine.name, 'gpu' if gpu else 'cpu', size, footprint, free, where,
                fixes, sized)


def preflight(dep: Any, *, before_download: bool = False) -> Plan | None:
    """The plan of the deployment ``dep`` (a ``Deployment``); a WontFitError when the model
    cannot fit. ``before_download``: None at once for a model that is local (it is checked
    as it launches: here an engine of it may be running and hold the memory). None too when
    the check is off, or the model's size cannot be read (no hub access, an unknown name):
    what follows then says what is wrong, as it would without a plan."""
    if not config['preflight']:
        return None
    options = dep.options
    try:
        size, folder = model_size(dep.model, source=dep.source,
                                  quantization=options.get('quantization'))
    except (ModelNotFoundError, InputError) as e:
        get_logger().debug('no memory plan for %s: %s', dep.model, e)
        return None
    if before_download and folder is not None:
        return None
    engine = engine_for(dep.engine, dep.type or size.type, size.gguf, folder)
    result = plan_for(dep.model, size, engine, engine.validate(options), launcher=dep.launcher)
    if result.fits is False:
        raise WontFitError(result.refusal(), result)
    return result
