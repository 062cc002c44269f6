"""When to try a failed delivery again: exponential backoff with jitter (pure)."""
from __future__ import annotations

import random
from datetime import datetime
from datetime import timedelta


def backoff_seconds(attempts: int, first: float, maximum: float, rand: float | None = None) -> float:
    """Delay before attempt ``attempts + 1``: first·2^(attempts−1), capped, times 0.5–1.5.

    Jitter spreads retries of many deliveries that failed together (one outage) so they
    do not all come back in the same second.
    """
    rand = random.random() if rand is None else rand
    base = min(maximum, first * (2 ** max(0, attempts - 1)))
    return min(maximum, base * (0.5 + rand))


def next_attempt_at(attempts: int, now: datetime, first: float, maximum: float, rand: float | None = None) -> datetime:
    """When attempt ``attempts + 1`` is due: ``now`` plus :func:`backoff_seconds`."""
    return now + timedelta(seconds=backoff_seconds(attempts, first, maximum, rand))
