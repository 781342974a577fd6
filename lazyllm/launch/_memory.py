"""How much memory the machine that will run an engine has free: RAM, and each GPU's.

The planner (serve/_plan.py) asks here for an engine launched on this machine; a cluster job
asks on its node, before the engine starts (launch/_node.py, which also reads the RAM, with
the standard library only). GPUs are asked through ``nvidia-smi``, which ships with the
driver, so no CUDA library is imported.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass

from ._node import NEED_ENV, REFUSED_TAG, available_ram

__all__ = ['Memory', 'machine_memory', 'gib', 'NEED_ENV', 'REFUSED_TAG']


def gib(n: float) -> str:
    """Bytes as people read them: '1.4 GiB', '513 MiB'."""
    return f'{n / 2**30:.1f} GiB' if abs(n) >= 2**30 else f'{n / 2**20:.0f} MiB'


@dataclass(frozen=True)
class Memory:
    """Bytes of RAM free and in all, and (free, total) bytes of each GPU."""
    free: int
    total: int
    gpus: tuple = ()


def _gpus() -> tuple:
    exe = shutil.which('nvidia-smi')
    if exe is None:
        return ()
    try:
        out = subprocess.run([exe, '--query-gpu=memory.free,memory.total',
                              '--format=csv,noheader,nounits'], capture_output=True,
                             text=True, timeout=10, check=True).stdout
        rows = [line.split(',') for line in out.strip().splitlines() if line.strip()]
        return tuple((int(free) << 20, int(total) << 20) for free, total in rows)
    except (OSError, subprocess.SubprocessError, ValueError):
        return ()


def machine_memory() -> Memory:
    """This machine's free memory: RAM (``available_ram``) and GPUs."""
    total = os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE')
    free = available_ram()
    return Memory(total if free is None else free, total, _gpus())
