"""Free TCP ports for engines on this machine.

The kernel hands out a free port when a socket binds port 0. Between closing that socket and
the engine binding the port, another launch in this process could be given the same port (a
freed port is often handed out again soon), so ports handed out recently are skipped.
"""
from __future__ import annotations

import socket
import threading
from collections import deque

from ..errors import DeployError

__all__ = ['allocate_port', 'port_is_free']

_RECENT = 4096          # how many handed-out ports are remembered
_ATTEMPTS = 200
_lock = threading.Lock()
_recent: deque[int] = deque(maxlen=_RECENT)
_recent_set: set[int] = set()


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ':' in host else socket.AF_INET


def allocate_port(host: str = '127.0.0.1') -> int:
    """A TCP port free on ``host`` now and not handed out recently by this process."""
    for _ in range(_ATTEMPTS):
        with socket.socket(_family(host), socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        with _lock:
            if port in _recent_set:
                continue
            if len(_recent) == _RECENT:
                _recent_set.discard(_recent[0])
            _recent.append(port)
            _recent_set.add(port)
            return port
    raise DeployError(f'found no free TCP port on {host} in {_ATTEMPTS} tries; stop engines '
                      f'you no longer need, or widen net.ipv4.ip_local_port_range.')


def port_is_free(port: int, host: str = '127.0.0.1') -> bool:
    """Whether a server could bind ``port`` on ``host`` now (as servers do, with
    SO_REUSEADDR, so connections still in TIME_WAIT do not count as busy)."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True
