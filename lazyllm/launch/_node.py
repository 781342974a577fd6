"""The first thing a cluster job runs on its node: pick the address and port, then exec.

``python _node.py [--host ADDR] [--reach HEAD] -- PROGRAM ARGS...``

A job submitted to Slurm or Ray lands on a node nobody chose in advance, so the launcher
cannot know the engine's address or a free port when it builds the argv. The argv carries
the placeholders ``HOST`` and ``PORT`` instead, and this script, on the node:

1. picks the address to bind: ``--host`` if given; else, in a Slurm job, the node's
   ``NodeAddr`` (the address the cluster's own configuration says reaches the node); else
   the local address that routes to ``--reach`` (the scheduler's head), which is an address
   the cluster can reach; loopback when the head is loopback;
2. picks a free port on that address (only when the argv asks for one with ``PORT``; a
   program given ``OWN_PORT`` gets 0, binds a port itself and prints its own line with it,
   which adds to this one);
3. prints one line ``LAZYLLM_ENDPOINT {"host": …, "port": …, "node": …, "pid": …,
   "cuda_visible_devices": …}`` to its output, which the launcher's Job reads;
4. when the job carries the memory its engine needs (``LAZYLLM_NEED_BYTES``, from the
   planner, serve/_plan.py), checks that this node has it free (``available_ram``), and
   else exits with one line saying so (``REFUSED_TAG``) before any weights load;
5. replaces itself with the program (``exec``), so the scheduler's signals (scancel, Ray's
   job stop) reach the engine directly and its exit code is the job's.

Only the standard library is used: the launcher runs this file by path with ``-I -S`` under
the engine's interpreter, which may not have lazyllm installed. The module is also imported
by lazyllm (``HOST``, ``PORT``, ``parse_endpoint``), so the placeholders live in one place.
"""
from __future__ import annotations

import ipaddress
import json
import os
import shutil
import socket
import subprocess
import sys

HOST = '{lazyllm.host}'   # in an argv: the address the job's node binds
PORT = '{lazyllm.port}'   # in an argv: a port free on that node
OWN_PORT = '{lazyllm.own_port}'   # in an argv: 0, the program binds a port and announces it
PREFIX = 'LAZYLLM_ENDPOINT '
NEED_ENV = 'LAZYLLM_NEED_BYTES'
REFUSED_TAG = '[lazyllm] not started:'


def available_ram() -> int | None:
    """Bytes of RAM this machine can hand out without swapping (``MemAvailable``: free plus
    reclaimable page cache), lowered to the room left under this process's cgroup memory
    limit, if any (a container, a Slurm allocation); None without /proc."""
    try:
        with open('/proc/meminfo', encoding='ascii') as f:
            info = {k: int(v.split()[0]) * 1024 for k, v in (ln.split(':', 1) for ln in f)}
        free = info['MemAvailable']
    except (OSError, KeyError, ValueError):
        return None
    try:
        with open('/proc/self/cgroup', encoding='ascii') as f:
            group = '/sys/fs/cgroup/' + f.read().strip().split('::', 1)[1].lstrip('/')
        with open(group + '/memory.max', encoding='ascii') as f:
            limit = f.read().strip()
        if limit != 'max':
            with open(group + '/memory.current', encoding='ascii') as f:
                free = min(free, max(int(limit) - int(f.read()), 0))
    except (OSError, IndexError, ValueError):
        pass
    return free


def check_memory(env: dict | None = None) -> str:
    """'' when the memory the job's plan needs (``NEED_ENV``, bytes) is free on this node,
    else why the engine is not started, with the numbers."""
    need = (os.environ if env is None else env).get(NEED_ENV)
    free = available_ram()
    if not need or free is None or int(need) <= free:
        return ''
    return (f'node {socket.gethostname()} has {free / 2**30:.1f} GiB of RAM free and the '
            f'engine needs about {int(need) / 2**30:.1f} GiB (lazyllm.plan() shows the parts): '
            'run it on a node with more free memory, or lower max_model_len= or the dtype.')


def fill_endpoint(argv: list[str], host: str, port: int | None) -> list[str]:
    """``argv`` with the ``HOST``, ``PORT`` and ``OWN_PORT`` placeholders replaced (inside
    items too, as in ``--url=http://{lazyllm.host}:{lazyllm.port}``)."""
    return [a.replace(HOST, host).replace(PORT, str(port)).replace(OWN_PORT, '0')
            for a in argv]


def parse_endpoint(text: str) -> dict | None:
    """The endpoint a job announced in its output, or None if it has not yet. Several lines
    add up (this script's, then the port an engine bound itself): a later value that is
    not null wins."""
    found: dict = {}
    for line in text.splitlines():
        if line.startswith(PREFIX):
            try:
                facts = json.loads(line[len(PREFIX):])
            except ValueError:
                continue        # a line cut short: the rest is not written yet
            if isinstance(facts, dict):
                found.update({k: v for k, v in facts.items() if v is not None or k not in found})
    return found or None


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == 'localhost'


def _slurm_node_addr() -> str | None:
    node = os.environ.get('SLURMD_NODENAME')
    scontrol = shutil.which('scontrol')
    if not node or not scontrol:
        return None
    try:
        out = subprocess.run([scontrol, 'show', 'node', '-o', node], capture_output=True,
                             text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for field in out.split():
        if field.startswith('NodeAddr='):
            return socket.gethostbyname(field.split('=', 1)[1])
    return None


def _route_to(head: str) -> str:
    """The local address the kernel would use to reach ``head`` (no packet is sent)."""
    if _is_loopback(head):
        return '127.0.0.1'
    family = socket.AF_INET6 if ':' in head else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.connect((head, 9))
        return s.getsockname()[0]


def pick_host(host: str | None, reach: str | None) -> str:
    if host:
        return host
    found = _slurm_node_addr()
    if found:
        return found
    if reach:
        return _route_to(reach)
    return socket.gethostbyname(socket.gethostname())


def free_port(host: str) -> int:
    family = socket.AF_INET6 if ':' in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def main(argv: list[str]) -> None:
    if '--' not in argv or argv.index('--') == len(argv) - 1:
        sys.exit('usage: _node.py [--host ADDR] [--reach HEAD] -- PROGRAM [ARGS...]')
    split = argv.index('--')
    opts, program = argv[:split], argv[split + 1:]
    named = dict(zip(opts[::2], opts[1::2]))
    host = pick_host(named.get('--host'), named.get('--reach'))
    port = free_port(host) if any(PORT in a for a in program) else None
    program = fill_endpoint(program, host, port)
    facts = {'host': host, 'port': port, 'node': socket.gethostname(), 'pid': os.getpid(),
             'cuda_visible_devices': os.environ.get('CUDA_VISIBLE_DEVICES')}
    print(PREFIX + json.dumps(facts), flush=True)
    refused = check_memory()
    if refused:      # the planner's check, on the node that would run the engine
        sys.exit(f'{REFUSED_TAG} {refused}')
    try:
        os.execvp(program[0], program)
    except OSError as e:
        sys.exit(f'[lazyllm] cannot run {program[0]!r} on {facts["node"]}: {e}. Install it '
                 f'there, or give its full path (the same path must exist on every node).')


if __name__ == '__main__':
    main(sys.argv[1:])
