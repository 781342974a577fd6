"""The registry of deployments shared by the processes of a user (``<home>/registry.db``).

Not imported by ``import lazyllm``: whoever needs it imports ``lazyllm.registry``.
"""
from ._store import (
    RECORD_STATUSES,
    SCHEMA_VERSION,
    Published,
    Record,
    Registry,
    check_name,
    check_variant_name,
)

__all__ = ['Record', 'Published', 'Registry', 'check_name', 'check_variant_name',
           'RECORD_STATUSES', 'SCHEMA_VERSION']
