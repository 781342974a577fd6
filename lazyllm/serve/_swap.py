"""Blue-green swap: serve new weights or a new engine configuration without a gap.

    m.update()                                    # finetune, then swap in the new weights
    m.set_specific_finetuned_model(folder)        # on a running module: swap now
    m.deploy_method(lazyllm.deploy.vllm, ...)     # on a running module: swap now

The new engine is launched beside the old one, which keeps answering. Once the new one is
ready, every share and client switches to it at once (``Deployment.take``: one lock, one
new generation), the calls in flight finish on the old engine (bounded by the
``drain_timeout`` setting), and then the old engine is stopped (SIGTERM first: our engines
finish what they are answering before they exit). A new engine that fails to start is
stopped, the configuration goes back to what it was and the old engine keeps serving; the
DeployError says why.

A named deployment's registry row moves to the new engine in one write, before the old one
stops, so that a process attached by name finds the new URL when the old one stops answering
(``Deployment.engine_lost`` re-resolves the name). A module attached by name to an engine
another process launched swaps too: it launches the new engine, takes the name over, and
ends the old engine through its job.

Why here and not in ``Deployment``: a swap composes the deployment's steps (launch without
switching, take, drain) with the registry; the deployment itself knows neither.
"""
from __future__ import annotations

from typing import Any

from .._config import config
from .._log import get_logger
from ..errors import DeployError, LazyLLMError

__all__ = ['swap', 'swappable']

_KEEP: Any = object()


def swappable(dep: Any) -> bool:
    """Whether ``dep`` serves an engine a swap can replace: one it launched, or a named
    deployment it attached to (whose model it knows)."""
    return dep.state == 'running' or (dep.state == 'attached' and dep.named is not None
                                      and bool(dep.model))


def swap(dep: Any, *, how: dict | None = None, model: Any = _KEEP, options: Any = _KEEP,
         adapter: Any = _KEEP, fresh: bool = False) -> bool:
    """Change how ``dep`` serves (``how``: ``reconfigure`` arguments; ``model``, ``options``,
    ``adapter``: ``use`` arguments) and, when it serves an engine (``swappable``), replace
    that engine blue-green. ``fresh``: a new engine even when nothing changed (``update()``
    in server mode). Returns whether an engine was replaced; a deployment that serves none
    just takes the change for its next start."""
    with dep.swap_lock:                       # one swap at a time per deployment
        before = dep.settings()
        if how is not None:
            dep.reconfigure(**how)
        use = {k: v for k, v in (('model', model), ('options', options),
                                 ('adapter', adapter)) if v is not _KEEP}
        if use:
            dep.use(**{'adapter': before['adapter'], **use})
        if not swappable(dep) or (not fresh and dep.settings() == before):
            return False
        old_url, named = dep.url, dep.named
        try:
            launched = dep.wait_engine(dep.launch_engine(
                detach=named is not None and named.detached))
        except BaseException as e:
            dep.restore(before)
            if isinstance(e, LazyLLMError):
                raise DeployError(f'the new engine did not start, so {old_url} keeps serving '
                                  f'{before["model"] or "the old model"}:\n{e}') from e
            raise
        try:
            replaced, generation = dep.take(launched, swapping=True)
        except DeployError:                    # stopped meanwhile: so is the new engine
            dep.restore(before)
            raise
        if named is not None:      # before the old engine stops: attached processes follow
            from ._named import move_named
            old = move_named(dep)
        timeout = config['drain_timeout']
        left = dep.drain(generation, timeout)
        if left:
            get_logger().warning('%d calls were still running on the replaced engine at %s '
                                 'after %gs (the drain_timeout setting): stopping it anyway',
                                 left, old_url, timeout)
        if replaced is None and named is not None:
            from ._named import job_of
            replaced = job_of(old)             # launched by another process: end its job
        if replaced is not None:
            replaced.stop(timeout=timeout)
        get_logger().info('swapped %s: %s now serves %s', old_url, dep.url, dep.model)
        return True


def load_adapter(dep: Any, name: str, path: str) -> bool:
    """Add the LoRA adapter ``name`` (a folder) to the engine ``dep`` runs, while it runs,
    when that engine loads adapters at runtime (vLLM launched with LoRA enabled): no
    restart, no new process. Calls use it by default from then on. False when the engine
    cannot (then a swap serves it)."""
    engine = dep.served_by
    if dep.state != 'running' or engine is None or not engine.loads_adapters(dep.options):
        return False
    lora = dep.options.get('lora') or {}
    body: dict[str, Any] = {'lora_name': name, 'lora_path': path}
    if name in lora:            # a new version of an adapter it serves: replaced in place
        body['load_inplace'] = True
    with dep.lease() as lease:  # (vLLM answers these with plain text, not JSON)
        lease.client.request('POST', 'load_lora_adapter', json=body, raw=True)
    _record_adapters(dep, {**lora, name: path}, adapter=name)
    get_logger().info('loaded the adapter %s into the engine at %s', name, dep.url)
    return True


def unload_adapter(dep: Any, name: str) -> None:
    """Remove the LoRA adapter ``name`` from the engine ``dep`` runs, while it runs (see
    ``load_adapter``); calls go to the base model again when it was their default."""
    from ..errors import InputError
    lora = dict(dep.options.get('lora') or {})
    if name not in lora:
        raise InputError(f'{name!r} is not an adapter of this deployment (its adapters: '
                         f'{", ".join(lora) or "none"}).')
    del lora[name]
    adapter = None if dep.adapter == name else dep.adapter
    engine = dep.served_by
    if dep.state == 'running' and engine is not None and engine.loads_adapters(dep.options):
        with dep.lease() as lease:
            lease.client.request('POST', 'unload_lora_adapter', json={'lora_name': name},
                                 raw=True)
        _record_adapters(dep, lora, adapter=adapter)
    else:
        swap(dep, options={**dep.options, 'lora': lora}, adapter=adapter)


def _record_adapters(dep: Any, lora: dict, *, adapter: str | None) -> None:
    """The running engine now serves ``lora``: so does the deployment's configuration (a
    restart keeps them), and its registry row."""
    dep.use(options={**dep.options, 'lora': lora, 'enable_lora': True}, adapter=adapter)
    if dep.named is not None and dep.named.owner:
        from ._named import move_named
        move_named(dep)       # the same engine: only the configuration in the row changes
