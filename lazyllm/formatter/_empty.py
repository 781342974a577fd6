"""EmptyFormatter: keep the model's output as it is."""
from __future__ import annotations

from typing import Any

from ._base import FormatterBase


class EmptyFormatter(FormatterBase):
    """Return the output unchanged: the explicit "no formatting" choice, and a neutral
    element for ``|``."""

    def format(self, output: Any) -> Any:
        return output
