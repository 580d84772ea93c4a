"""Retry delays: how long a failed job waits before its next attempt.

A retry-delay function takes `(attempt, exc, job)` and returns seconds, so a job type can back off
differently for different errors. `attempt` is the attempt that just failed (1 for the first run).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta

from jobqueue.options import JobContext

__all__ = ["RetryDelay", "exponential_backoff", "fixed_schedule"]

RetryDelay = Callable[[int, BaseException, JobContext], float]
"""`(attempt, exc, job) -> seconds` until the next attempt."""


def exponential_backoff(
    base: float = 5.0, factor: float = 2.0, cap: float = 3600.0, jitter: float = 0.25
) -> RetryDelay:
    """Wait `base * factor ** (attempt - 1)` seconds, at most `cap`, spread by +/- `jitter`.

    The jitter (a fraction of the delay) keeps a burst of failures from retrying in lockstep.
    The default waits about 5 s, 10 s, 20 s, 40 s, ... up to an hour.
    """
    if base < 0 or factor < 1 or cap < 0 or not 0 <= jitter <= 1:
        raise ValueError("need base >= 0, factor >= 1, cap >= 0 and 0 <= jitter <= 1")

    def delay(attempt: int, exc: BaseException, job: JobContext) -> float:
        raw = min(cap, base * factor ** max(attempt - 1, 0))
        return max(0.0, raw * (1 + random.uniform(-jitter, jitter)))

    return delay


def fixed_schedule(*delays: float | timedelta) -> RetryDelay:
    """Wait the n-th delay before the n-th retry; the last one repeats.

    `fixed_schedule(30, 60, 300, 600)` is the schedule "30 s, 1 min, 5 min, 10 min".
    """
    if not delays:
        raise ValueError("fixed_schedule needs at least one delay")
    seconds = tuple(d.total_seconds() if isinstance(d, timedelta) else float(d) for d in delays)
    if min(seconds) < 0:
        raise ValueError("delays must not be negative")

    def delay(attempt: int, exc: BaseException, job: JobContext) -> float:
        return seconds[min(max(attempt, 1), len(seconds)) - 1]

    return delay
