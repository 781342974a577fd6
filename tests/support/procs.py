"""Process helpers for tests that start real processes (psutil is a test-only dependency)."""
import os
import subprocess
import sys
import time

import psutil

# a Python program that dies as crashed native code does (killed by its own SIGSEGV)
SEGFAULT = 'import os, signal; os.kill(os.getpid(), signal.SIGSEGV)'


def group(pgid):
    """Pids of the live (non-zombie) processes in process group ``pgid``."""
    found = []
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc.pid)
        except (psutil.Error, ProcessLookupError):
            pass
    return found


def wait_until(predicate, timeout=5.0, interval=0.05):
    """Poll ``predicate`` until it is true; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def alive(pid):
    """Whether ``pid`` runs (a zombie does not count)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def engine_processes(module, marker='lazyllm.deploy.servers'):
    """Engine processes under a started module's job: the job's pid is the launcher's
    watchdog, the engine (and anything it spawns) runs below it; ``marker`` is a piece of
    the engine's command line (vLLM: 'vllm.entrypoints.openai.api_server')."""
    watchdog = psutil.Process(module.deployment.job.pid)
    return [p for p in watchdog.children(recursive=True) if marker in ' '.join(p.cmdline())]


def engine_peak_mb(module):
    """The engine's peak resident memory in MiB: the sum of ``VmHWM`` (each process's
    high-water mark of RSS, from /proc) over every process below the module's job watchdog
    (vLLM runs an API server and an engine core)."""
    total = 0
    for proc in psutil.Process(module.deployment.job.pid).children(recursive=True):
        try:
            with open(f'/proc/{proc.pid}/status', encoding='ascii') as f:
                total += next(int(line.split()[1]) for line in f if line.startswith('VmHWM:'))
        except (OSError, StopIteration):
            pass
    return total / 1024


def hold_memory(gib):
    """Another process that holds ``gib`` GiB of touched memory until it is killed (a
    machine whose memory others use); the caller kills it."""
    code = ('import sys, time; b = bytearray(int(float(sys.argv[1]) * 2**30)); '
            'b[::4096] = b"x" * len(b[::4096]); print("held", flush=True); time.sleep(3600)')
    proc = subprocess.Popen([sys.executable, '-c', code, str(gib)], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == 'held'
    return proc
