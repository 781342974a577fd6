"""The Ray launcher: each job is a Ray job, submitted through the Jobs REST API.

    launcher = lazyllm.launchers.ray(num_cpus=2)              # RAY_ADDRESS=http://head:8265
    launcher = lazyllm.launchers.ray(start_local=True)        # a Ray head of its own

lazyllm speaks the Jobs API of the Ray dashboard over HTTP (``POST /api/jobs/``, ``GET
/api/jobs/<id>``, ``…/logs``, ``…/stop``), so lazyllm itself never imports ``ray``: the
cluster's own Ray runs the job. The entrypoint is the node script ``_node.py`` (fills in the
node's address and a free port, then execs the engine), with ``entrypoint_num_cpus``,
``entrypoint_num_gpus`` and ``entrypoint_memory`` set from the resources, so Ray places it
on a node that has them. Ray keeps an infeasible job pending forever; lazyllm asks the
cluster for its nodes first and refuses such a request at once, naming what the largest
node has.

The job's environment is the Ray node's, plus the caller's overrides passed as
``runtime_env.env_vars`` (visible to whoever can read the dashboard: use a cluster you
trust with the engine's API key). Model folders and lazyllm's home must be on a filesystem
the nodes share, at the same paths, and the interpreter that runs the engine must exist
there too.

``start_local=True`` with no address starts a head on this machine (``ray start --head
--block``, loopback only, every port chosen free) under the local launcher, so it ends with
this interpreter; the ``ray`` command comes from the setting ``ray_bin`` (env
``LAZYLLM_RAY_BIN``).
"""
from __future__ import annotations

import os
import shlex
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .._config import config
from .._log import get_logger
from ..errors import InputError, LaunchError
from ._base import Job, Launcher, Resources, Status, log_dir, stop_at_exit
from ._polled import PolledJob, check_poll, one_node

__all__ = ['RayLauncher', 'RayJob']


_NODE_SCRIPT = str(Path(__file__).with_name('_node.py'))
_STATUS: dict[str, Status] = {'PENDING': 'pending', 'RUNNING': 'running', 'SUCCEEDED': 'exited',
                               'FAILED': 'failed'}
_LOCAL_HEAD_TIMEOUT = 180.0


def dashboard_url(address: str) -> str:
    """``address`` as the dashboard's base URL; the GCS or client address is refused with
    the fix, since the Jobs API lives on the dashboard."""
    text = address.strip().rstrip('/')
    if text == 'auto' or text.startswith('ray://'):
        raise InputError(f'RAY_ADDRESS={address!r} is a Ray client address; lazyllm submits '
                         f'jobs to the dashboard\'s Jobs API: set RAY_ADDRESS to '
                         f'http://<head>:8265 (the dashboard port).')
    if '://' not in text:
        text = 'http://' + text
    parts = urlsplit(text)
    if parts.scheme not in ('http', 'https') or not parts.hostname:
        raise InputError(f'the Ray address {address!r} is not a URL such as '
                         f'http://<head>:8265.')
    if parts.port in (6379, 10001):
        raise InputError(f'{address!r} is Ray\'s GCS or client port; lazyllm submits jobs to '
                         f'the dashboard\'s Jobs API: use http://{parts.hostname}:8265.')
    return text


class _Api:
    """The few calls of the Jobs REST API lazyllm makes; errors become LaunchError."""

    def __init__(self, base: str):
        self.base = base

    def __call__(self, method: str, path: str, json: Any = None, timeout: float = 30,
                 missing_ok: bool = False) -> Any:
        """The answer's JSON; None for a 404 when ``missing_ok``."""
        import httpx
        try:
            r = httpx.request(method, self.base + path, json=json, timeout=timeout)
        except httpx.HTTPError as e:
            raise LaunchError(f'cannot reach the Ray dashboard at {self.base} ({e}): check '
                              f'RAY_ADDRESS and that the head runs (`ray status`).') from e
        if r.status_code == 404 and missing_ok:
            return None
        if r.status_code >= 400:
            raise LaunchError(f'the Ray dashboard at {self.base} refused {method} {path}: '
                              f'HTTP {r.status_code} {r.text.strip()[:500]}')
        return r.json()


class RayJob(PolledJob):
    """A Ray job, followed through the Jobs API; ``job_id`` is its submission id."""

    def __init__(self, api: _Api, submission_id: str, *, name: str, argv: Any = (),
                 log_path: Any = '', poll: float = 1.0):
        path = Path(log_path) if log_path else log_dir() / f'{submission_id}.log'
        super().__init__(submission_id, name=name, argv=argv, log_path=path, poll=poll)
        self._api = api

    def _fetch(self) -> dict:
        # a deleted job is {}: gone all the same
        return self._api('GET', f'/api/jobs/{self._id}', missing_ok=True) or {}

    @property
    def status(self) -> Status:
        state = self._facts().get('status', 'GONE')
        if state in _STATUS:
            return _STATUS[state]
        # STOPPED by someone else, or deleted: dead all the same, but not by our stop()
        return 'stopped' if self._stopped else 'failed'

    @property
    def reason(self) -> str:
        return self._facts().get('message') or ''

    @property
    def node(self) -> str | None:
        return self.endpoint.get('node')   # Ray reports the driver's node only for drivers
                                           # that call ray.init(); engines do not

    @property
    def returncode(self) -> int | None:
        return self._facts().get('driver_exit_code') if self.ended else None

    def read_output(self, offset: int = 0) -> bytes:
        """The job's logs from Ray, also kept in ``log_path`` (for ``lazyllm logs``)."""
        try:
            text = self._api('GET', f'/api/jobs/{self._id}/logs').get('logs') or ''
        except LaunchError:   # the head is gone: what was fetched before
            return super().read_output(offset)
        data = text.encode('utf-8', 'replace')
        try:
            self.log_path.write_bytes(data)
        except OSError:
            pass
        return data[offset:]

    def tail_output(self, lines: int) -> tuple[bytes, int]:
        self.read_output(0)
        return super().tail_output(lines)

    def _cancel(self, force: bool) -> None:
        # Ray's stop already ends the job's process group with SIGKILL after its own grace
        # period, so a forced stop asks the same again
        self._api('POST', f'/api/jobs/{self._id}/stop')


class RayLauncher(Launcher):
    """Runs jobs on a Ray cluster; see the module docstring.

    ``address`` (default: env ``RAY_ADDRESS``) is the dashboard URL, e.g.
    ``http://head:8265``. ``num_cpus``, ``num_gpus`` and ``memory_gb`` are the defaults of
    every job. ``start_local=True`` starts a head on this machine when no address is set.
    """

    name = 'ray'

    def __init__(self, address: str | None = None, num_cpus: int | None = None,
                 num_gpus: int = 0, memory_gb: float | None = None, *,
                 start_local: bool = False, resources: Any = None, poll: float = 1.0):
        mine = Resources(cpus=num_cpus, gpus=num_gpus, memory_gb=memory_gb)
        super().__init__(mine.over(Resources.of(resources)))
        if address is not None and not isinstance(address, str):
            raise InputError(f'address must be a str such as "http://head:8265", not '
                             f'{type(address).__name__}.')
        address = address or os.environ.get('RAY_ADDRESS') or None
        self._address = dashboard_url(address) if address else None
        self.start_local, self.poll = bool(start_local), check_poll(poll)
        self.head: Job | None = None     # the local head this launcher started, if any
        self._head_lock = threading.Lock()

    @property
    def address(self) -> str:
        """The dashboard URL; starts the local head first when asked to."""
        if self._address is None:
            if not self.start_local:
                raise LaunchError('no Ray cluster to submit to: set RAY_ADDRESS to the head\'s '
                                  'dashboard URL (http://<head>:8265), pass address=, or pass '
                                  'start_local=True to start a Ray head on this machine.')
            with self._head_lock:
                if self._address is None:
                    self._address = self._start_head()
        return self._address

    @property
    def ref(self) -> str:
        return f'ray:{self.address}'

    def __repr__(self) -> str:      # no I/O: must not start a local head
        where = self._address or ('a local head, not started' if self.start_local else
                                  'no address')
        return f'<RayLauncher {where}>'

    @classmethod
    def from_ref(cls, rest: str) -> RayLauncher:
        return cls(address=rest or None)

    # -- resources --------------------------------------------------------------------
    def check_resources(self, resources: Resources) -> Resources:
        one_node(resources)
        if resources.partition or resources.time_limit or resources.extra_args:
            raise InputError('Ray has no partitions, time limits or submit flags: leave '
                             'partition, time_limit and extra_args unset for the ray launcher.')
        return resources

    def _capacity(self) -> list[dict]:
        return self._capacity_at(self.address)

    @staticmethod
    def _capacity_at(address: str) -> list[dict]:
        """Total resources of each alive node: [{'CPU': 2.0, 'GPU': 0.0, 'memory': …}]."""
        nodes = _Api(address)('GET', '/nodes?view=summary').get('data', {}).get('summary', [])
        return [n.get('raylet', {}).get('resourcesTotal', {}) for n in nodes
                if n.get('raylet', {}).get('state') == 'ALIVE']

    def _check_feasible(self, resources: Resources) -> None:
        want = {'CPU': resources.cpus or 0, 'GPU': resources.gpus or 0,
                'memory': (resources.memory_gb or 0) * 2 ** 30}
        nodes = self._capacity()
        if any(all(node.get(k, 0) >= v for k, v in want.items()) for node in nodes):
            return
        if not nodes:
            raise LaunchError(f'the Ray cluster at {self.address} has no live node: start one '
                              f'(`ray start --head` on the head machine) and check `ray status`.')
        def amount(key: str, value: float) -> str:
            return f'{value / 2 ** 30:.1f} GB of memory' if key == 'memory' else \
                f'{value:g} {key}s'
        short = [f'{amount(k, v)} (the largest node has '
                 f'{amount(k, max((n.get(k, 0) for n in nodes), default=0))})'
                 for k, v in want.items() if v and not any(n.get(k, 0) >= v for n in nodes)]
        raise LaunchError(f'the Ray cluster at {self.address} cannot run this job: it asks '
                          f'for {", ".join(short) or "more than any one node has"}; Ray would '
                          f'keep it pending as infeasible. Ask for less, or add nodes.')

    # -- jobs -------------------------------------------------------------------------
    def _api(self) -> _Api:
        return _Api(self.address)

    def _start(self, argv: list[str], *, env: dict[str, str | None], name: str,
               resources: Resources, detach: bool = False) -> RayJob:
        unset = sorted(k for k, v in env.items() if v is None)
        if unset:
            raise InputError(f'the ray launcher cannot unset variables of the node '
                             f'({", ".join(unset)}): give them a value instead.')
        api = self._api()
        self._check_feasible(resources)
        head = urlsplit(self.address).hostname
        assert head is not None     # dashboard_url() refused an address without a host
        entry = shlex.join([sys.executable, '-I', '-S', _NODE_SCRIPT, '--reach', head, '--',
                            *argv])
        submission = f'lazyllm-{name}-{time.strftime("%Y%m%d-%H%M%S")}-{uuid.uuid4().hex[:6]}'
        body: dict[str, Any] = {'entrypoint': entry, 'submission_id': submission,
                                'runtime_env': {'env_vars': dict(env)} if env else {},
                                'metadata': {'lazyllm_job': name}}
        if resources.cpus:
            body['entrypoint_num_cpus'] = resources.cpus
        if resources.gpus:
            body['entrypoint_num_gpus'] = resources.gpus
        if resources.memory_gb:
            body['entrypoint_memory'] = int(resources.memory_gb * 2 ** 30)
        job_id = api('POST', '/api/jobs/', json=body).get('submission_id') or submission
        job = RayJob(api, job_id, name=name, argv=argv, poll=self.poll)
        if not detach:
            stop_at_exit(job)
        get_logger().info('submitted %s as Ray job %s to %s%s', name, job_id, self.address,
                          ', detached' if detach else '')
        return job

    def attach(self, job_id: str, *, log_path: Any = '', name: str = 'job') -> RayJob:
        if not isinstance(job_id, str) or not job_id:
            raise InputError(f'a Ray job id is its submission id, a str, not {job_id!r}.')
        return RayJob(self._api(), job_id, name=name, log_path=log_path, poll=self.poll)

    # -- a local head -------------------------------------------------------------------
    def _start_head(self) -> str:
        import httpx

        from ._local import LocalLauncher
        from ._ports import allocate_port
        dash = allocate_port()
        ports = {flag: allocate_port() for flag in (
            '--port', '--ray-client-server-port', '--node-manager-port',
            '--object-manager-port', '--dashboard-agent-listen-port',
            '--dashboard-agent-grpc-port', '--metrics-export-port', '--runtime-env-agent-port')}
        taken = {dash, *ports.values()}        # Ray refuses a worker range that overlaps them
        low = max(taken) + 1 if max(taken) + 201 <= 65535 else min(taken) - 201
        temp = tempfile.mkdtemp(prefix='ray-', dir='/tmp')   # Ray's socket paths must be short
        argv = [config['ray_bin'], 'start', '--head', '--block', '--node-ip-address=127.0.0.1',
                '--dashboard-host=127.0.0.1', f'--dashboard-port={dash}',
                '--include-dashboard=true', '--disable-usage-stats', f'--temp-dir={temp}',
                f'--num-cpus={os.cpu_count() or 1}', f'--min-worker-port={low}',
                f'--max-worker-port={low + 200}',
                *[f'{flag}={port}' for flag, port in ports.items()]]
        env = {'RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER': '0', 'RAY_ADDRESS': None}
        self.head = LocalLauncher().launch(argv, env=env, name='ray-head')
        url = f'http://127.0.0.1:{dash}'
        deadline = time.monotonic() + _LOCAL_HEAD_TIMEOUT
        get_logger().info('starting a local Ray head (dashboard %s), log: %s', url,
                          self.head.log_path)
        while time.monotonic() < deadline:
            if self.head.ended:
                break
            try:   # the dashboard answers before the head's node has registered
                if httpx.get(url + '/api/version', timeout=2).status_code == 200 and \
                        self._capacity_at(url):
                    return url
            except (httpx.HTTPError, LaunchError):
                pass
            time.sleep(0.5)
        log = self.head.logs(30)
        self.head.stop()
        raise LaunchError(f'the local Ray head did not start within {_LOCAL_HEAD_TIMEOUT:.0f}s '
                          f'(is `{config["ray_bin"]}` Ray 2.x? set LAZYLLM_RAY_BIN). Last log '
                          f'lines:\n{log}')

    def stop_head(self) -> None:
        """Stop the local head this launcher started (it also stops when lazyllm exits)."""
        if self.head is not None:
            self.head.stop()
            self.head, self._address = None, None
