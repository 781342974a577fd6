"""AutoModel: a model name in, the right module out (online or local), with its reasons.

    lazyllm.AutoModel('qwen')                            # an OnlineChatModule on qwen
    lazyllm.AutoModel('/models/SmolLM2-135M-Instruct')   # a TrainableModule
    lazyllm.AutoModel('qwen-chat', config_id='prod')     # an entry of the config map
    print(lazyllm.AutoModel.explain('gpt-4o'))           # the decision, without building

``AutoModel(...)`` returns the module itself (TrainableModule, OnlineChatModule,
OnlineEmbeddingModule or OnlineMultiModalModule; see ``_factory``), so what a user holds is
what it looks like: ``isinstance(AutoModel(path), TrainableModule)`` is true.

Why: application code should name *what* model it wants, and the place it runs (keys set,
weights on disk, a config map) decides *how* it is served. The decision is the pure function
:func:`decide` (no I/O but reading the map and checking whether a path exists), so
``explain()`` shows exactly what the constructor would build. Rules, first match wins:

1. the config map (``_config_map``) has an entry for the name (or ``config_id``): the entry,
   with the keywords given to AutoModel over it;
2. ``source='local'``, or ``framework=``/``deploy_config=``: a local model (TrainableModule);
3. the name is an online supplier (``AutoModel('qwen')``): its default model;
4. ``source=`` names a supplier, or ``base_url=`` is given: an online model (OnlineModule);
5. the name is an existing path or a catalog name, or ``url=`` is given: a local model;
6. some supplier has an API key: an online model on it;
7. otherwise a local model that the hub resolves or downloads at ``start()``.

Every keyword reaches the module or raises InputError (a bad key in the file: ConfigError).
LazyLLM's spellings are accepted: ``base_model=`` and ``embed_model_name=`` name the model
(the latter makes an online model an embedding one), ``embed_url=`` is ``base_url=``,
``function=`` is ``type=``,
``return_trace=True`` logs each call (``_call_log``), and a type name that is no type here
is ``llm`` with a warning.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from .._log import get_logger
from .._redact import redact
from ..errors import ConfigError, InputError
from . import _config_map as cmap
from ._base import ModuleBase
from ._call_log import apply_return_trace
from ._factory import Factory, alias

__all__ = ['AutoModel', 'Decision', 'decide']

# short keys of a local model entry in a models file that are engine options
_ENTRY_OPTIONS = {'dtype': 'dtype', 'quantization': 'quantization', 'device': 'device',
                  'max_context_length': 'max_model_len', 'adapters': 'adapters'}
_LOCAL_MARKERS = ('framework', 'engine', 'deploy_config', *_ENTRY_OPTIONS)
_LOCAL_EXTRA = {'framework', 'engine', 'deploy_config', 'url', 'base_url', 'api_key',
                *_ENTRY_OPTIONS}
_METHOD_KEYS = ('launcher', 'port', 'python', 'api_key', 'url')   # deploy_method's own keywords
_EMBED = '<embed_model_name>'   # marks a model given as embed_model_name= (no keyword can be it)


@dataclass
class Decision:
    """What AutoModel builds: ``kind`` ('online'|'local'), the constructor keywords, for an
    online model its call type (which picks the module class), and for a local model the
    ``deploy_method`` call ({'engine', 'method', 'options'}) if any. The module is built from
    this alone: nothing is decided twice."""
    kind: str
    kwargs: dict
    reasons: list[str] = field(default_factory=list)
    deploy: dict | None = None
    trace: bool = False       # return_trace=True: a CallLog hook on the module
    call_type: str | None = None

    def call(self) -> str:
        """The resulting call as Python text, API keys shown as ***."""
        kw = dict(self.kwargs)
        if self.kind == 'online':
            model, source = kw.pop('model'), kw.pop('source')
            head, pos = 'lazyllm.OnlineModule', [] if model is None else [model]
            kw = {'source': source, **kw} if source is not None else kw
        else:
            head, pos = 'lazyllm.TrainableModule', [kw.pop('base_model')]
        args = [repr(p) for p in pos] + [f'{k}={_shown(k, v)}' for k, v in kw.items()]
        text = f'{head}({", ".join(args)})'
        if self.deploy is not None:
            d = self.deploy
            extra = {k: v for k, v in d['method'].items() if v is not None} | d['options']
            text += f'.deploy_method(lazyllm.deploy.{d["engine"]}' + ''.join(
                f', {k}={_shown(k, v)}' for k, v in extra.items()) + ')'
        return redact(text, self._secrets())

    def _secrets(self) -> list:
        keys = [self.kwargs.get('api_key')]
        return keys + ([self.deploy['method'].get('api_key')] if self.deploy else [])

    def describe(self) -> str:
        article = 'an' if self.kind == 'online' else 'a'
        lines = [f'AutoModel builds {article} {self.kind} model:']
        lines += [f'  - {r}' for r in self.reasons]
        lines.append(f'  -> {self.call()}')
        return redact('\n'.join(lines), self._secrets())


def _shown(key: str, value: Any) -> str:
    return "'***'" if key == 'api_key' and value else repr(value)


def decide(model: Any = None, config_id: Any = None, source: str | None = None,
           type: Any = None, config: Any = True, kw: dict | None = None) -> Decision:
    """Decide what AutoModel builds, without building it (see the module docstring)."""
    kw = dict(kw or {})
    model = alias(model, 'model', kw.pop('base_model', None), 'base_model')
    embed_name = kw.pop('embed_model_name', None)
    model = alias(model, 'model', embed_name, 'embed_model_name')
    if embed_name is not None:
        kw[_EMBED] = True
    type = alias(type, 'type', kw.pop('function', None), 'function')
    embed_url = kw.pop('embed_url', None)
    if embed_url is not None:
        kw['base_url'] = alias(kw.get('base_url'), 'base_url', embed_url, 'embed_url')
    kw.update({k: v for k, v in (('source', source), ('type', type)) if v is not None})
    name = os.fspath(model) if isinstance(model, os.PathLike) else model
    if name is not None and not isinstance(name, str):
        raise InputError(f'model must be a model name or path, not {name.__class__.__name__}')
    reasons: list[str] = []
    path = cmap.map_path(config)
    if path is None and config_id is not None:
        raise ConfigError(f'config_id={config_id!r} needs a config map, and there is none: set '
                          f'LAZYLLM_AUTO_MODEL_CONFIG_MAP_PATH or pass config="map.yaml"')
    if path is not None and (name is not None or config_id is not None):
        entry, why = cmap.select(cmap.load_map(path), path, name, config_id, source)
        if entry is not None:
            values = cmap.expand_env(entry)
            values.pop('id', None)
            values.setdefault('model', entry.name)
            reasons.append(f'the config map has {entry.label}; {why}')
            over = sorted(set(kw) & set(values))
            if over:
                reasons.append(f'keyword(s) {over} given to AutoModel override the entry')
            return _decide({**values, **kw}, set(kw), entry, reasons)
        reasons.append(why)
    return _decide({'model': name, **kw}, set(kw), None, reasons)


def _decide(values: dict, from_kw: set, entry: Any, reasons: list) -> Decision:
    trace = values.pop('return_trace', False)
    if not isinstance(trace, bool):
        raise (InputError if 'return_trace' in from_kw or entry is None else ConfigError)(
            f'return_trace must be True or False, not {trace!r}')
    p = _route(values, from_kw, entry, reasons)
    if trace:
        p.trace = True
        p.reasons.append('return_trace=True: each call\'s input and output are logged at INFO '
                         'level on the "lazyllm" logger')
    return p


def _route(values: dict, from_kw: set, entry: Any, reasons: list) -> Decision:
    from .online import get_supplier, suppliers
    model, source = values.pop('model', None), values.pop('source', None)
    markers = [k for k in _LOCAL_MARKERS if values.get(k) is not None]
    if source == 'local' or markers:
        if source not in (None, 'local'):
            raise InputError(f'{markers} serve a local model, but source={source!r} is online: '
                             f'drop {markers[0]}= or use source="local"')
        reasons.append('source is "local"' if source == 'local' else
                       f'{markers} are given: they configure a local engine')
        return _local(model, values, from_kw, entry, reasons)
    if source is None and isinstance(model, str) and model.lower() in suppliers:
        reasons.append(f'{model!r} is an online supplier: its default model of the call type')
        return _online(None, model.lower(), values, from_kw, entry, reasons)
    if source is not None:
        reasons.append(f'source={get_supplier(source).name!r} is an online supplier')
        return _online(model, source, values, from_kw, entry, reasons)
    if values.get('base_url') is not None:
        reasons.append('base_url= without source=: an OpenAI-compatible endpoint')
        return _online(model, None, values, from_kw, entry, reasons)
    if model is not None:
        if os.path.exists(os.path.expanduser(model)):
            reasons.append(f'{model!r} is an existing local path')
            return _local(model, values, from_kw, entry, reasons)
        from ..hub import lookup
        if lookup(model) is not None:
            reasons.append(f'{model!r} is a name of the model catalog (lazyllm.hub.catalog())')
            return _local(model, values, from_kw, entry, reasons)
    if values.get('url') is not None:
        reasons.append('url= without source=: attach to the engine at that URL')
        return _local(model, values, from_kw, entry, reasons)
    from .online._keys import choose_supplier
    try:
        chosen = choose_supplier(None, None, None)
        supplier, why = chosen[0], chosen[2]     # the key is not kept
    except ConfigError:
        supplier, why = None, None
    what = f'{model!r} is no local path, catalog name or supplier' if model else 'no model given'
    if supplier is not None:
        reasons.append(f'{what}, so online on {supplier.name}, picked by {why}')
        return _online(model, supplier.name, values, from_kw, entry, reasons)
    if model is None:
        raise InputError('AutoModel() has nothing to build: pass a model name or path '
                         '(AutoModel("qwen2-0.5b")), a supplier (AutoModel("qwen")), or set an '
                         'API key such as LAZYLLM_QWEN_API_KEY for the default online model')
    reasons.append(f'{what}, and no online supplier has an API key (LAZYLLM_<SOURCE>_API_KEY): '
                   f'a local model, which the hub resolves or downloads at start()')
    return _local(model, values, from_kw, entry, reasons)


def _online(model: Any, source: Any, values: dict, from_kw: set, entry: Any,
            reasons: list) -> Decision:
    from .online import get_supplier
    from .online._factory import ROUTES, OnlineModule, accepted_keywords, route
    embed = values.pop(_EMBED, False)
    call_type, why = route(model, values.get('type'), embed=embed)
    if embed and values.get('type') is None:
        values['type'] = call_type     # the module is told, as its name alone may not say
    cls = ROUTES[call_type]
    accepted = accepted_keywords(cls) | cmap.keywords(OnlineModule.build)
    accepted -= {'model', 'source', 'embed_model_name', 'embed_url', 'return_trace'}
    target = f'an online {call_type} model ({cls.__name__})'
    cmap.check_keys(values, accepted, from_kw, entry, target)
    default = get_supplier(source).models.get(call_type) if model is None and source else None
    reasons.append(f'call type {call_type} ({why}): {cls.__name__}'
                   + (f', model {default!r}' if default and 'base_url' not in values else ''))
    if values.get('url') is not None:             # OnlineModule's spelling of base_url
        values['base_url'] = alias(values.get('base_url'), 'base_url', values.pop('url'), 'url')
    kwargs = {'model': model, 'source': source}
    kwargs.update((k, v) for k, v in values.items() if v is not None)
    return Decision('online', kwargs, reasons, call_type=call_type)


def _local(model: Any, values: dict, from_kw: set, entry: Any, reasons: list) -> Decision:
    from ..deploy import engines
    from ._trainable import TrainableModule
    values.pop(_EMBED, None)     # a local model's type comes from its files
    accepted = (cmap.keywords(TrainableModule.__init__) - {'base_model', 'source'}) | _LOCAL_EXTRA
    cmap.check_keys(values, accepted, from_kw, entry, 'a local model (TrainableModule)')
    if values.get('type') is not None:
        values['type'] = _local_type(values['type'])
    url, base_url = values.pop('url', None), values.pop('base_url', None)
    if url is not None and base_url is not None and url != base_url:
        raise InputError('pass url= or base_url= (the same thing for a local model), not both')
    url = url or base_url
    if not model and not url:
        raise InputError('a local model needs a model name or path, or url= of a running engine')
    framework, options = values.pop('framework', None), values.pop('deploy_config', None)
    if 'engine' in values:        # the models-file spelling of framework
        engine_key = values.pop('engine')
        if framework is not None and engine_key != framework:
            raise ConfigError(f'{entry.label if entry else "AutoModel"}: engine {engine_key!r} '
                              f'and framework {framework!r} disagree: keep one of them')
        framework = engine_key
    lifted = {_ENTRY_OPTIONS[k]: values.pop(k) for k in list(values) if k in _ENTRY_OPTIONS}
    if lifted and (options is None or isinstance(options, dict)):
        options = {**lifted, **(options or {})}    # deploy_config wins over the short keys
    api_key = values.pop('api_key', None)
    kwargs = {'base_model': model or ''}
    kwargs.update((k, v) for k, v in values.items() if v is not None)
    if url:
        kwargs['url'] = url
        reasons.append(f'url={url!r}: attach to the engine there instead of launching one')
    if framework is None and options is None and api_key is None:
        return Decision('local', kwargs, reasons)
    error = InputError if entry is None or 'framework' in from_kw else ConfigError
    where = 'framework=' if error is InputError else f'{entry.label}: framework'
    engine = str(framework or 'auto').lower()
    if engine != 'auto' and engine not in engines:
        raise error(f'{where} {framework!r} is no engine: use one of '
                    f'{", ".join(["auto", *sorted(engines)])}')
    if options is not None and not isinstance(options, dict):
        raise error('deploy_config must be a mapping of engine options, e.g. '
                    '{max_model_len: 2048}')
    options = dict(options or {})
    method = {k: options.pop(k) for k in _METHOD_KEYS if k in options}
    method.update({k: v for k, v in (('url', url), ('api_key', api_key)) if v is not None})
    if engine != 'auto':
        try:
            engines[engine].validate(options)
        except InputError as e:
            from_file = entry is not None and 'deploy_config' not in from_kw
            raise (ConfigError if from_file else error)(
                f'{entry.label + ": " if from_file else ""}engine options: {e}') from e
    reasons.append(f'engine {engine}' + (f' with options {sorted(options)}' if options else ''))
    return Decision('local', kwargs, reasons, {'engine': engine, 'method': method,
                                          'options': options})


def _local_type(type: Any) -> Any:
    """A local model's ``type=``, read as LazyLLM reads it (``ModelType.read``)."""
    from ..hub import ModelType
    return ModelType.read(type).value


def _build(p: Decision) -> ModuleBase:
    kw = dict(p.kwargs)
    m: ModuleBase
    if p.kind == 'online':
        from .online._factory import ROUTES
        assert p.call_type is not None          # _online always decides it
        m = ROUTES[p.call_type](**{**kw, 'type': p.call_type})
    else:
        from ..deploy import auto, get_engine
        from ._trainable import TrainableModule
        local = TrainableModule(kw.pop('base_model'), **kw)
        if p.deploy is not None:
            engine = auto if p.deploy['engine'] == 'auto' else get_engine(p.deploy['engine'])
            local.deploy_method(engine, **p.deploy['method'], **p.deploy['options'])
        m = local
    get_logger().debug('%s', p.describe())
    return apply_return_trace(m, p.trace)


class AutoModel(metaclass=Factory):
    """``AutoModel(model=None, *, config_id=None, source=None, type=None, config=True, **kw)``
    builds and returns the module the rules of the module docstring pick;
    ``AutoModel.explain(...)`` (same arguments) says why, and ``AutoModel.decide(...)`` gives
    the decision as data; neither builds anything."""

    @staticmethod
    def products() -> tuple[type, ...]:
        from ._trainable import TrainableModule
        from .online import OnlineBase
        return (TrainableModule, OnlineBase)

    @classmethod
    def build(cls, model: Any = None, *, config_id: Any = None, source: str | None = None,
              type: Any = None, config: Any = True, **kw: Any) -> ModuleBase:
        """The module itself: a TrainableModule, or an online module of the call type."""
        return _build(decide(model, config_id, source, type, config, kw))

    @staticmethod
    def decide(model: Any = None, *, config_id: Any = None, source: str | None = None,
               type: Any = None, config: Any = True, **kw: Any) -> Decision:
        """What AutoModel(...) would build, as data (``kind``, keywords, reasons); builds
        nothing."""
        return decide(model, config_id, source, type, config, kw)

    @staticmethod
    def explain(model: Any = None, *, config_id: Any = None, source: str | None = None,
                type: Any = None, config: Any = True, **kw: Any) -> str:
        """Why AutoModel(...) builds what it builds, as text; builds nothing."""
        return decide(model, config_id, source, type, config, kw).describe()
