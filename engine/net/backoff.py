"""How long to wait before asking a throttling server again.

A server's ``Retry-After`` is a hint, not an order to spin: ``0``, ``nan``, a negative or
unreadable value once made a client retry in a tight loop (thousands of requests a minute
against a shared hourly budget). The wait is the larger of the hint and an exponential
back-off from :data:`FLOOR_SECONDS`, with jitter so that workers throttled together do not
return together. The ceiling is the caller's: a wait beyond what one run may spend defers
the work to the next run instead of sleeping.
"""

from __future__ import annotations

import math
import random
import time
from email.utils import parsedate_to_datetime

FLOOR_SECONDS = 1.0
"""The shortest wait after a throttled answer, whatever the server says."""
JITTER = 0.25
"""Up to this share is added to each wait."""


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` in seconds (delta-seconds or an HTTP date); ``None`` when missing or
    not a finite, non-negative time."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = moment.timestamp() - (time.time() if now is None else now)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def pause(retry_after: str | None, attempt: int) -> float:
    """Seconds to wait before retry number ``attempt`` (0 for the first retry)."""
    hint = retry_after_seconds(retry_after) or 0.0
    backoff = FLOOR_SECONDS * 2 ** min(attempt, 16)
    return max(hint, backoff) * (1 + random.uniform(0, JITTER))
