"""LoRA adapters in the built-in LLM engine: several peft adapters on one base, switched per
request by the request's ``model``.

    deploy_method(lazyllm.deploy.transformers,
                  adapters={'sql': ('/runs/sql-lora', 0.7), 'chat': ('/runs/chat-lora', 0.3)})

serves four model names (``GET /v1/models``, in this order):

- ``combined``: the weighted mix of all adapters, made once at load time with peft's
  ``add_weighted_adapter`` (``adapter_mix``, default ``'cat'``: the exact weighted sum
  ``W + sum(w_i * dW_i)`` for adapters of any ranks, at the cost of a rank that is the sum of
  theirs; ``'linear'`` keeps the rank but needs equal ranks and is an approximation, as
  peft's documentation says; ``'svd'`` re-factorises the exact sum to the largest rank).
  A request without ``model`` gets it, and lazyllm's calls without ``share(adapter=)``
  send this name;
- the base model's served name (its folder name): the base without any adapter;
- each adapter by its name: that adapter alone (weight ignored: it is the mix's weight).

The top of this module is standard library only: the lazyllm process imports it to check
``adapters=`` before an engine launches (``check_options``, ``check_folders``). ``attach``,
run inside the engine process, imports torch and peft.
"""
from __future__ import annotations

import json
import os
import re
import struct
from pathlib import Path
from typing import Any

from ..._config import expand_user
from ...errors import DeployError, InputError

MIX = 'combined'
MIXES = ('cat', 'linear', 'svd')
_NAME = re.compile(r'[A-Za-z0-9][A-Za-z0-9._:-]{0,63}')
_EXAMPLE = "adapters={'sql': '/runs/sql-lora'} or {'sql': ('/runs/sql-lora', 0.7)}"


# -- checks in the lazyllm process (no I/O) ------------------------------------------------
def check_options(adapters: Any) -> dict[str, tuple[str, float]]:
    """``adapters=`` as ``{name: (path, weight)}``: a bare path means weight 1.0."""
    if not isinstance(adapters, dict) or not adapters:
        raise InputError(f'transformers option adapters must be a non-empty dict of name -> '
                         f'path or (path, weight), e.g. {_EXAMPLE}; got {adapters!r}.')
    out = {}
    for name, spec in adapters.items():
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise InputError(f'transformers option adapters: {name!r} is not a valid adapter '
                             'name: use letters, digits, ".", "_", "-" or ":" (at most 64, '
                             'starting with a letter or digit), e.g. "sql".')
        if name == MIX:
            raise InputError(f'transformers option adapters: {MIX!r} is the name of the '
                             'weighted mix of all adapters: rename the adapter.')
        path, weight = spec, 1.0
        if isinstance(spec, (tuple, list)):
            if len(spec) != 2:
                raise InputError(f'transformers option adapters: {name!r} must be a path or '
                                 f'a (path, weight) pair, got {spec!r}.')
            path, weight = spec
        if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
            raise InputError(f'transformers option adapters: the path of {name!r} must be a '
                             f'str (a peft adapter folder), got {path!r}.')
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or \
                weight != weight or weight in (float('inf'), float('-inf')):
            raise InputError(f'transformers option adapters: the weight of {name!r} must be a '
                             f'finite number, e.g. ({os.fspath(path)!r}, 0.5); got {weight!r}.')
        # absolute: the engine process may run elsewhere (another cwd, no shell for '~')
        out[name] = (os.path.abspath(expand_user(path, f'the path of adapter {name!r}')),
                     float(weight))
    return out


# -- checks before launch (reads the folders, not the weights) ------------------------------
def check_folders(model_dir: str, served_name: str, adapters: dict) -> None:
    """Each adapter is a peft LoRA folder made for this base: DeployError naming the fix."""
    if served_name in adapters:
        raise DeployError(f'adapter name {served_name!r} is the base model\'s served name '
                          f'(calls name it to reach the base without adapters): rename the '
                          f'adapter.')
    if served_name == MIX:
        raise DeployError(f'the base model\'s folder is named {MIX!r}, the served name of the '
                          'adapters\' mix: rename (or link) the folder under another name.')
    base = Path(model_dir)
    base_shapes = _shapes(base)
    for name, (path, _) in adapters.items():
        folder = Path(path).expanduser()
        if not folder.is_dir():
            raise DeployError(f'adapter {name!r}: {folder} is not a folder: pass the folder a '
                              'LoRA finetune wrote (with adapter_config.json), e.g. '
                              'm.finetuned_model_path after update() with merge=False.')
        cfg_file = folder / 'adapter_config.json'
        if not cfg_file.is_file():
            raise DeployError(f'adapter {name!r}: {folder} has no adapter_config.json, so it '
                              'is not a peft adapter folder: pass the folder that '
                              'save_pretrained() of a peft model wrote (a merged model is '
                              'served as the base model instead: TrainableModule(path)).')
        try:
            cfg = json.loads(cfg_file.read_text())
        except (OSError, ValueError) as e:
            raise DeployError(f'adapter {name!r}: cannot read {cfg_file} ({e}): write it again '
                              'with save_pretrained().') from e
        kind = str(cfg.get('peft_type', 'LORA')).upper()
        if kind != 'LORA':
            raise DeployError(f'adapter {name!r}: {folder} is a {kind} adapter; the '
                              'transformers engine serves LoRA adapters only: merge it into '
                              'the weights and serve those.')
        if not any(folder.glob('adapter_model.*')):
            raise DeployError(f'adapter {name!r}: {folder} has no adapter_model.safetensors '
                              '(or .bin): the adapter weights are missing; copy the whole '
                              'folder save_pretrained() wrote.')
        _check_base(name, folder, cfg, base, base_shapes)


def _check_base(name: str, folder: Path, cfg: dict, base: Path, base_shapes: dict) -> None:
    """Refuse only a clear contradiction: the adapter's matrices do not fit the base's
    layers, or its recorded base is a local model of another shape (the recorded path itself
    may differ: the base may have been copied or renamed)."""
    fix = (f': pass an adapter trained on this base ({base.name}), or deploy the base it was '
           'trained on.')
    recorded = Path(str(cfg.get('base_model_name_or_path') or '')).expanduser()
    if str(recorded) not in ('', '.') and (recorded / 'config.json').is_file():
        mine, theirs = _config(base), _config(recorded)
        keys = ('model_type', 'hidden_size', 'num_hidden_layers', 'vocab_size')
        diff = [k for k in keys if k in mine and k in theirs and mine[k] != theirs[k]]
        if diff:
            raise DeployError(f'adapter {name!r} was trained on {recorded}, whose '
                              f'{", ".join(f"{k}={theirs[k]}" for k in diff)} differ from '
                              f'{base}\'s ({", ".join(f"{k}={mine[k]}" for k in diff)})' + fix)
    if not base_shapes:
        return
    for key, shape in _shapes(folder).items():
        m = re.match(r'(?:base_model\.model\.)?(.+)\.lora_([AB])(?:\.[^.]+)?\.weight$', key)
        if not m or len(shape) != 2:
            continue
        target = base_shapes.get(m.group(1) + '.weight')
        if target is None or len(target) != 2:
            continue
        size, want = (shape[1], target[1]) if m.group(2) == 'A' else (shape[0], target[0])
        if size != want:
            raise DeployError(f'adapter {name!r} does not fit the base: its {key} has shape '
                              f'{list(shape)}, and the base\'s {m.group(1)} takes '
                              f'{list(target)}' + fix)


def _config(folder: Path) -> dict:
    try:
        cfg = json.loads((folder / 'config.json').read_text())
        return cfg.get('text_config', cfg) if isinstance(cfg, dict) else {}
    except (OSError, ValueError):
        return {}


def _shapes(folder: Path) -> dict:
    """Tensor name -> shape from the safetensors headers in ``folder`` (no weights read)."""
    out: dict = {}
    for file in sorted(folder.glob('*.safetensors')):
        try:
            with open(file, 'rb') as f:
                size = struct.unpack('<Q', f.read(8))[0]
                if size > 100_000_000:
                    continue
                header = json.loads(f.read(size))
        except (OSError, ValueError, struct.error):
            continue
        out.update({k: v.get('shape', []) for k, v in header.items()
                    if k != '__metadata__' and isinstance(v, dict)})
    return out


# -- inside the engine process --------------------------------------------------------------
class Adapters:
    """The adapters loaded onto one model and which one is active. ``activate`` is called by
    the generator's worker thread only, between batches."""

    def __init__(self, peft_model: Any, base_name: str, weights: dict, paths: dict,
                 mix: str):
        self.peft, self.base_name, self.weights, self.paths = peft_model, base_name, weights, paths
        self.mix_type = mix
        self.active: str | None = MIX

    def names(self) -> list[str]:
        """Served names, the default first: the mix, the base, each adapter."""
        return [MIX, self.base_name, *self.weights]

    def key_of(self, model: Any) -> str | None:
        """The adapter a request's ``model`` asks for (None: none, the base); the mix when it
        names none; KeyError for a name this engine does not serve."""
        if model is None or model == '' or model == MIX:
            return MIX
        if model == self.base_name:
            return None
        if model in self.weights:
            return model
        raise KeyError(model)

    def activate(self, key: str | None) -> None:
        if key == self.active:
            return
        tuner = self.peft.base_model
        if key is None:
            tuner.disable_adapter_layers()
        else:
            tuner.enable_adapter_layers()
            self.peft.set_adapter(key)
        self.active = key

    def cards(self) -> list[dict]:
        """Extra fields for each /v1/models card, in ``names()`` order."""
        mix = {'parent': self.base_name, 'adapters': dict(self.weights),
               'combination_type': self.mix_type}
        return [mix, {}, *({'parent': self.base_name, 'root': self.paths[n]}
                           for n in self.weights)]


def attach(model: Any, base_name: str, specs: list[tuple[str, float, str]],
           mix: str = 'cat') -> Adapters:
    """Load every adapter onto ``model`` (in place: its layers get LoRA branches) and build
    their weighted mix; the mix is active."""
    from peft import PeftModel
    (first, _, path), rest = specs[0], specs[1:]
    peft_model = PeftModel.from_pretrained(model, path, adapter_name=first)
    for name, _, path in rest:
        peft_model.load_adapter(path, adapter_name=name)
    weights = {name: w for name, w, _ in specs}
    peft_model.add_weighted_adapter(list(weights), list(weights.values()), adapter_name=MIX,
                                    combination_type=mix)
    peft_model.set_adapter(MIX)
    peft_model.eval()                      # LoRA dropout off
    return Adapters(peft_model, base_name, weights, {n: p for n, _, p in specs}, mix)
