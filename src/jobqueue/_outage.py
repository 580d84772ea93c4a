"""Riding out a store outage: backoff per activity, one log line at its start and one at its end.

A worker talks to Redis from several activities at once (fetch, heartbeat, forwarding, recovery,
acknowledgements, wake-ups). They share one `OutageLog`, so a restart of Redis gives a worker's
log one "unavailable" line and one "back" line, not one per activity and attempt; each activity
keeps its own `Backoff`.
"""

from __future__ import annotations

import logging
import time

__all__ = ["Backoff", "OutageLog"]

_REMIND_EVERY = 60.0


class OutageLog:
    """Logs the start and the end of an outage once, and a reminder every minute in between."""

    def __init__(self, logger: logging.Logger, what: str = "Redis") -> None:
        self._logger = logger
        self._what = what
        self._since: float | None = None
        self._reminded = 0.0
        self.failures = 0

    @property
    def down(self) -> bool:
        """Whether an outage is going on."""
        return self._since is not None

    def failed(self, activity: str, exc: BaseException) -> None:
        """An activity could not reach the store."""
        now = time.monotonic()
        self.failures += 1
        cause = f"{type(exc).__name__}: {exc}"[:300]
        if self._since is None:
            self._since = self._reminded = now
            self._logger.warning(
                "%s unavailable (%s during %s); retrying with backoff",
                self._what,
                cause,
                activity,
                extra={"activity": activity, "error": cause},
            )
        elif now - self._reminded >= _REMIND_EVERY:
            self._reminded = now
            self._logger.warning(
                "%s still unavailable after %.0f s (%s)", self._what, now - self._since, cause
            )

    def ok(self) -> None:
        """An activity reached the store again."""
        if self._since is None:
            return
        took = time.monotonic() - self._since
        self._since = None
        self._logger.warning(
            "%s is back after %.1f s", self._what, took, extra={"outage_seconds": round(took, 3)}
        )


class Backoff:
    """Delays between retries of one activity: doubling from `first` up to `cap`."""

    def __init__(self, first: float = 0.05, cap: float = 1.0) -> None:
        self._first = first
        self._cap = cap
        self._next = first

    def next(self) -> float:
        """How long to wait before the next try."""
        delay = self._next
        self._next = min(self._cap, self._next * 2)
        return delay

    def reset(self) -> None:
        """The activity succeeded: start from `first` next time."""
        self._next = self._first
