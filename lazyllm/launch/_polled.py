"""PolledJob: a job a scheduler runs (Slurm, Ray), known only through the scheduler's answers.

Its state is a dict fetched from the scheduler (``scontrol show job``, ``GET /api/jobs/<id>``)
and kept for ``poll`` seconds, so that a Deployment asking for ``status`` on every call does
not run a command each time; ``wait``/``stop`` fetch fresh. The job's node announces the
engine's address in the output (``_node.py``), which ``url`` reads.
"""
from __future__ import annotations

import threading
import time
from abc import abstractmethod
from pathlib import Path
from typing import Any, Sequence

from ..errors import InputError
from ._base import Job, Resources, Status, forget_at_exit

__all__ = ['PolledJob', 'check_poll', 'one_node']


def check_poll(poll: Any) -> float:
    """A cluster launcher's ``poll=``: seconds between questions to the scheduler."""
    if isinstance(poll, bool) or not isinstance(poll, (int, float)) or poll <= 0:
        raise InputError(f'poll must be a number of seconds > 0, got {poll!r}.')
    return float(poll)


def one_node(resources: Resources) -> Resources:
    """Cluster launchers run one engine on one node; a model across nodes is vLLM's job."""
    if resources.nodes > 1:
        raise InputError(f'one engine runs on one node, but nodes={resources.nodes} was '
                         f'asked: for a model across nodes, run vLLM with its Ray backend '
                         f'(see docs/launch.md, "Multi-node vLLM"), or ask for nodes=1.')
    return resources


class PolledJob(Job):
    """See the module docstring; subclasses implement ``_fetch``, ``status`` and ``_cancel``."""

    announces_endpoint = True

    def __init__(self, job_id: str, *, name: str, argv: Sequence[str], log_path: Path,
                 poll: float):
        super().__init__(name=name, argv=argv, host=None, log_path=log_path)
        self._id, self._poll = str(job_id), poll
        self._stopped = False          # set by our stop(): tells 'stopped' from 'failed'
        self._seen: dict[str, Any] = {}
        self._seen_at = float('-inf')
        self._lock = threading.Lock()

    @property
    def job_id(self) -> str:
        return self._id

    @abstractmethod
    def _fetch(self) -> dict[str, Any]:
        """The scheduler's current record of the job ({} once it forgot the job)."""

    def _facts(self, fresh: bool = False) -> dict[str, Any]:
        with self._lock:
            if fresh or time.monotonic() - self._seen_at >= self._poll:
                self._seen, self._seen_at = self._fetch(), time.monotonic()
            return self._seen

    @abstractmethod
    def _cancel(self, force: bool) -> None:
        """Ask the scheduler to end the job (``force``: kill it, after a polite ask did not
        end it in time)."""

    def stop(self, timeout: float = 10.0) -> Status:
        forget_at_exit(self)
        if not self.ended:
            self._stopped = True
            self._cancel(force=False)
            if not self._wait_ended(timeout):
                self._cancel(force=True)
                self._wait_ended(30)
        return self.status

    def wait(self, timeout: float | None = None) -> Status:
        self._wait_ended(timeout)
        return self.status

    def _wait_ended(self, timeout: float | None) -> bool:
        """Poll (fresh) until the job ended; False when ``timeout`` seconds passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self._facts(fresh=True)
            if self.ended:
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.2)

    def __repr__(self) -> str:
        return f'<{type(self).__name__} {self.name} id={self._id} {self.status} ' \
               f'node={self.node}>'
