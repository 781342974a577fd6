"""The registry of deployments shared by the processes of a user (``<home>/registry.db``).

Not imported by ``import lazyllm``: whoever needs it imports ``lazyllm.registry``.
"""
from ._store import RECORD_STATUSES, SCHEMA_VERSION, Record, Registry, check_name

__all__ = ['Record', 'Registry', 'check_name', 'RECORD_STATUSES', 'SCHEMA_VERSION']
