"""``acme_local``: the local launcher, marking every job it starts (``ACME_LAUNCHER=1``)."""
from __future__ import annotations

from typing import Any

from lazyllm.launch import LocalLauncher


class AcmeLauncher(LocalLauncher):
    name = 'acme_local'

    def _start(self, argv: list[str], *, env: dict[str, str | None], **kw: Any) -> Any:
        return super()._start(argv, env={**env, 'ACME_LAUNCHER': '1'}, **kw)
