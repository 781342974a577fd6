"""``lazyllm.connect(name)``: a module attached to a named deployment, by its name only."""
from __future__ import annotations

from typing import Any

__all__ = ['connect']


def connect(name: str) -> Any:
    """A started TrainableModule attached to the deployment registered as ``name`` (any
    process may have launched it); its calls are checked against the engine's identity
    token, so a port reused by another server is never mistaken for it."""
    from ..serve import Named, find_deployment
    from ._trainable import TrainableModule
    rec = find_deployment(name)
    m = TrainableModule(url=rec.url, type=rec.type or None, name=name)
    m.deployment.named = Named.of(rec)
    m.deployment.token = rec.token or None     # the engine must answer with it
    return m.start()
