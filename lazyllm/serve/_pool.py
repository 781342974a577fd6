"""Model memory management: how many engines this process keeps running, and which to stop.

    lazyllm.config['max_live_models'] = 2          # or LAZYLLM_MAX_LIVE_MODELS=2
    lazyllm.config['model_memory_threshold'] = 0.9 # or stop engines while RAM is 90 % used
    a, b, c = (lazyllm.TrainableModule(p).start() for p in paths)   # starting c stops a
    a('hi')                                          # a restarts (b, now the oldest, stops)
    lazyllm.unload(b)                                # stop b now; its next call restarts it
    lazyllm.switch_device(c, 'cpu')                  # restart c on another device

Engines this process launched are kept in least-recently-used order: a call (any share's)
marks its deployment used. Before a new engine launches, while the cap is reached or the
memory threshold exceeded, the least recently used engine is stopped ("evicted"); its
module restarts it transparently at its next call, with one log line. Engines attached by
URL, or named deployments other processes share, are never evicted. An engine busy with a
call when it is evicted fails that call: set the cap above what runs at once.
"""
from __future__ import annotations

import threading
import time
from typing import Any

from .._config import config
from .._log import get_logger
from ..errors import DeployError, InputError

__all__ = ['pool', 'unload', 'switch_device', 'memory_in_use']



def memory_in_use() -> float | None:
    """The fraction of this machine's RAM in use (1 - MemAvailable/MemTotal), from
    /proc/meminfo; None where there is none."""
    try:
        with open('/proc/meminfo', encoding='ascii') as f:
            info = {k: int(v.split()[0]) for k, v in (line.split(':', 1) for line in f)}
        return 1.0 - info['MemAvailable'] / info['MemTotal']
    except (OSError, KeyError, ValueError, ZeroDivisionError):
        return None


class _Pool:
    """The engines this process launched, least recently used first."""

    def __init__(self) -> None:
        self._used: dict[Any, float] = {}     # Deployment -> last use (insertion = LRU order)
        self._lock = threading.RLock()

    def live(self) -> list:
        """Running deployments, least recently used first."""
        with self._lock:
            return sorted(self._used, key=self._used.__getitem__)

    def add(self, dep: Any) -> None:
        with self._lock:
            self._used[dep] = time.monotonic()

    def touch(self, dep: Any) -> None:
        with self._lock:
            if dep in self._used:
                self._used[dep] = time.monotonic()

    def discard(self, dep: Any) -> None:
        with self._lock:
            self._used.pop(dep, None)

    def make_room(self, newcomer: Any) -> None:
        """Evict the least recently used engines while the cap or threshold says so."""
        cap, threshold = config['max_live_models'], config['model_memory_threshold']
        if cap < 0 or not 0 <= threshold < 1:
            raise InputError(f'max_live_models must be >= 0 and model_memory_threshold in '
                             f'[0, 1), got {cap} and {threshold}.')
        while True:
            with self._lock:
                others = [d for d in self.live() if d is not newcomer and _evictable(d)]
                used = memory_in_use() if threshold else None
                full = cap and len(others) >= cap
                hot = used is not None and used > threshold
                if not others or not (full or hot):
                    return
                victim = others[0]
            why = f'{len(others)} engines run (max_live_models={cap})' if full else \
                f'{used:.0%} of RAM is in use (model_memory_threshold={threshold:.0%})'
            get_logger().info('stopping %s, the least recently used engine: %s', victim, why)
            victim.evict()


def _evictable(dep: Any) -> bool:
    named = dep.named
    return dep.job is not None and (named is None or not named.detached)


pool = _Pool()


def _deployment_of(model: Any) -> Any:
    dep = getattr(model, 'deployment', None)
    if dep is None:
        raise InputError(f'expected a local model module (TrainableModule), not '
                         f'{type(model).__name__}.')
    return dep


def unload(model: Any) -> None:
    """Stop ``model``'s engine now to free its memory; its next call starts it again."""
    dep = _deployment_of(model)
    if dep.job is None:
        raise InputError(f'{model!r} runs no engine launched by this process: nothing to '
                         f'unload (attached engines are stopped where they were launched).')
    dep.evict()


def switch_device(model: Any, device: str) -> None:
    """Restart ``model``'s engine on ``device`` ('cpu', 'cuda', 'cuda:N', 'mps', 'auto'). If it
    cannot start there, it is started again where it was, and the error is raised."""
    dep = _deployment_of(model)
    if not isinstance(device, str) or not device:
        raise InputError(f"device must be a str such as 'cpu' or 'cuda', not {device!r}.")
    from ..deploy import Engine
    engine = dep.engine if isinstance(dep.engine, Engine) else dep.target()[1]
    if 'device' not in engine.options:
        raise InputError(f'the {engine.name} engine takes no device option: pick the device '
                         f'with its own options (deploy_method(...)), then restart().')
    before = dict(dep.options)
    was_running = dep.job is not None
    dep.stop()
    dep.use(options={**before, 'device': device}, adapter=dep.adapter)
    try:
        dep.start()
    except DeployError:
        dep.use(options=before, adapter=dep.adapter)
        if was_running:
            dep.start()
        raise
