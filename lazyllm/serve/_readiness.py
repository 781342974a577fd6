"""Waiting for a launched engine to be ready — and to be the engine that was launched.

``wait_ready`` polls the job until it has an address and its health path answers 200 with
the launch token (deploy/_identity.py), and fails fast when the job ends, with the engine's
own reason. A 200 without the token comes from another process on the engine's port: it is
refused at once, before a prompt or an API key can reach it. While waiting it shows the
job's state or the engine's latest log line (``EngineProgress``: a spinner on a terminal,
an INFO log record every 10 s otherwise, a line on stderr in the command line): vLLM on a
CPU takes ~40 s, and a cluster job may wait in a queue first.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Mapping

from .._config import config
from .._progress import Progress
from ..deploy import Engine, is_ours
from ..errors import DeployError

__all__ = ['wait_ready', 'check_identity', 'failure_text', 'engine_root', 'EngineProgress',
           'PROBE_TIMEOUT']

# Seconds one probe of an engine may take: GET /health (polled while it loads, and to check
# its launch token) or GET /v1/models (attaching to a URL). An engine answers these from
# memory, without running the model, so even a busy one replies in milliseconds; 1.5 s
# leaves room for a loaded machine or a cluster network, yet a dead or wrong address is
# found quickly. The launch-token check of an attach, asked once and not retried, allows four
# times that.
PROBE_TIMEOUT = 1.5


def wait_ready(job: Any, engine: Engine, token: str | None, *, what: str,
               check_cancel: Callable[[], None]) -> str:
    """The engine's root URL once it is ready; DeployError when it exits, is not ready in
    time, or the port answers without ``token`` (None: an engine that reports no
    identity is trusted on its health alone)."""
    import httpx
    started = time.monotonic()
    deadline = started + config['deploy_timeout']
    shown = started      # the job is asked once a second, not every poll
    with httpx.Client(timeout=PROBE_TIMEOUT) as http, EngineProgress(engine.name) as progress:
        while True:
            check_cancel()
            if job.ended:
                raise DeployError(failure_text(job, engine, what, 'exited before it was ready'))
            root = job.url
            try:
                health = http.get(root + engine.health_path) if root else None
            except httpx.HTTPError:
                health = None
            if health is not None and health.status_code == 200:
                if token is None or is_ours(health.headers, token):
                    return root
                raise DeployError(_impostor(root, engine, job))
            now = time.monotonic()
            if now > deadline:
                raise DeployError(failure_text(
                    job, engine, what, f'was not ready after {config["deploy_timeout"]:.0f}s '
                    '(raise LAZYLLM_DEPLOY_TIMEOUT if the model is just slow to load)'))
            if now - shown >= 1:
                shown = now
                progress.update(now - started, _latest(job))
            time.sleep(0.2)


def engine_root(base_url: str) -> str:
    """The engine's root URL (where ``/health`` is) for its OpenAI base URL ``…/v1/``."""
    root = base_url.rstrip('/')
    return root[:-len('/v1')] if root.endswith('/v1') else root


def check_identity(base_url: str, token: str) -> None:
    """DeployError unless the engine at ``base_url`` (…/v1/) answers with ``token``."""
    import httpx
    root = engine_root(base_url)
    headers: Mapping[str, str]
    try:
        headers = httpx.get(root + '/health', timeout=PROBE_TIMEOUT * 4).headers
    except httpx.HTTPError:
        headers = {}
    if not is_ours(headers, token):
        raise DeployError(f'{root} answers, but not as the engine registered there (its '
                          'launch token is missing or different): another process may have '
                          'taken the port after the engine ended. Nothing was sent to it. '
                          'End the deployment (`lazyllm stop NAME`) and start it again.')


def _impostor(root: str, engine: Engine, job: Any) -> str:
    return (f'{root} answers {engine.health_path}, but not as the engine lazyllm launched '
            f'(the launch token is missing): another process took the port before the '
            f'{engine.name} engine could bind it. Nothing was sent to it. Start again (a new '
            f'port is picked), or find the program holding the port. Engine log: '
            f'{job.log_path}')


def failure_text(job: Any, engine: Engine, what: str, happened: str) -> str:
    """The DeployError text: the engine's own reason (read from its log by the engine,
    which knows how it reports one), then the last log lines."""
    log = job.logs(2000)
    tail = '\n'.join(log.rstrip().splitlines()[-30:])
    ended = job.exit_text
    head = f'the {engine.name} engine for {what} {happened}{f" ({ended})" if ended else ""}.'
    why = _node_refusal(log) or engine.failure_reason(log)
    if why:
        head += '\n' + why
    return f'{head}\nLast log lines:\n{tail}\nFull log: {job.log_path}'


def _node_refusal(log: str) -> str:
    """The node's own refusal to start the engine (too little free memory for the plan:
    launch/_node.py), which comes before anything the engine could say."""
    from ..launch import REFUSED_TAG
    line = next((ln for ln in log.splitlines() if REFUSED_TAG in ln), '')
    return line.split(REFUSED_TAG, 1)[1].strip() if line else ''


def _latest(job: Any) -> str:
    """What a waiting user wants to see: the queue state, else the last log line."""
    status = job.status
    if status == 'pending':
        why = job.reason
        return f'queued as job {job.job_id}' + (f' ({why})' if why else '')
    return (job.logs(1).strip().splitlines() or [''])[-1][-80:]


class EngineProgress(Progress):
    """Waiting for the ``engine`` to load: ``waiting for the vllm engine (12s): <its latest
    log line>``, as INFO log records in a Python program (shown at LAZYLLM_LOG_LEVEL INFO),
    on stderr in the command line (lazyllm/_progress.py says why)."""

    def __init__(self, engine: str):
        super().__init__(f'waiting for the {engine} engine')

    def update(self, elapsed: float, last_line: str, log: bool | None = None) -> None:
        """``log`` says whether a log record is due now (None: every 10 s); lines on stderr
        keep the command line's pace."""
        self.show(last_line, elapsed=elapsed, due=log if self.stream is None else None)
