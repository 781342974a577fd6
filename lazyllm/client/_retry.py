"""When to try a request again, and how long to wait first.

Retrying is only safe while nothing of the answer has reached the caller, so the clients ask
this policy only before they hand out the first byte. The wait is capped exponential backoff
with jitter (so many clients hit by one outage do not come back in lockstep), or the
server's ``Retry-After`` when it sent one. No wait ever runs past the call's total deadline:
when the time left is too short, the error is raised at once, which is more useful than a
timeout a few seconds later.
"""
from __future__ import annotations

import random

from ..errors import EndpointError, RateLimitError
from ._errors import RETRIABLE

__all__ = ['BASE_DELAY', 'MAX_DELAY', 'backoff', 'retry_delay']

BASE_DELAY = 0.1  # seconds before the first retry (before jitter)
MAX_DELAY = 8.0   # no single backoff wait is longer than this


def backoff(retry: int) -> float:
    """The wait before retry number ``retry`` (0-based): 0.1, 0.2, 0.4 … capped at 8 s,
    times a random factor in [0.5, 1)."""
    return min(MAX_DELAY, BASE_DELAY * 2 ** retry) * (0.5 + random.random() / 2)


def retry_delay(error: EndpointError, retries_done: int, max_retries: int,
                time_left: float) -> float | None:
    """Seconds to wait before retrying after ``error``, or None to raise it now."""
    if retries_done >= max_retries or not isinstance(error, RETRIABLE):
        return None
    if isinstance(error, RateLimitError) and error.retry_after is not None:
        delay = error.retry_after
    else:
        delay = backoff(retries_done)
    return delay if delay < time_left else None
