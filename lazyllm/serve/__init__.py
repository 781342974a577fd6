"""Local serving: the lifecycle of the engines a process launches or attaches to.

- :class:`Deployment` -- one engine behind any number of shares: launch or attach, wait for
  readiness, lease clients to calls, drain, stop, and swap to new weights blue-green
  (:func:`swap`, :func:`load_adapter`);
- named deployments -- engines other processes find by name through the registry
  (:func:`start_named`, :func:`deployments`, :func:`find_deployment`,
  :func:`end_deployment`), and launched in the background as ``lazyllm deploy --detach``
  and the gateway's ``POST /v1/deployments`` do (:func:`deploy_detached`);
- the memory planner -- whether a model fits where it would run, and the fixes
  (:func:`plan`; ``Deployment.start`` refuses one that cannot fit);
- the live-engine pool -- at most ``max_live_models`` engines, least recently used evicted
  (:data:`pool`, :func:`unload`, :func:`switch_device`).

The module layer (``TrainableModule``) drives this package; nothing here imports it.
"""
from ._deployment import Deployment
from ._detached import LAUNCHERS, DetachedDeploy, default_name, deploy_detached, deploy_logs
from ._leases import Lease
from ._named import Named, deployments, end_deployment, find_deployment, job_of, start_named
from ._plan import Plan, plan
from ._pool import memory_in_use, pool, switch_device, unload
from ._swap import load_adapter, swap, swappable, unload_adapter

__all__ = ['Deployment', 'Lease', 'Named', 'deployments', 'end_deployment', 'find_deployment',
           'job_of', 'start_named', 'deploy_detached', 'deploy_logs', 'default_name',
           'DetachedDeploy', 'LAUNCHERS', 'memory_in_use', 'pool', 'switch_device', 'unload',
           'load_adapter', 'swap', 'swappable', 'unload_adapter', 'Plan', 'plan']
