"""Waiting for jobs to end: who waits for which job, and waking them (for `result()`).

A driver calls `ended(job_id)` when it learns a job ended (the Redis driver: from its `done`
channel; the memory driver: from its store), and `everyone()` when it may have missed some (a
lost subscription), so that waiters look again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

__all__ = ["Waiters"]


class Waiters:
    """Events of the jobs someone waits for, by job id."""

    def __init__(self) -> None:
        self._events: dict[str, set[asyncio.Event]] = {}

    def __len__(self) -> int:
        return len(self._events)

    @contextlib.contextmanager
    def watch(self, job_id: str) -> Iterator[asyncio.Event]:
        """An event set when `job_id` may have ended, for the time of the `with` block."""
        event = asyncio.Event()
        self._events.setdefault(job_id, set()).add(event)
        try:
            yield event
        finally:
            waiting = self._events.get(job_id)
            if waiting is not None:
                waiting.discard(event)
                if not waiting:
                    del self._events[job_id]

    def ended(self, job_id: str) -> None:
        """`job_id` ended: wake those who wait for it."""
        for event in self._events.get(job_id, ()):
            event.set()

    def everyone(self) -> None:
        """Some ends may have been missed: everyone looks again."""
        for waiting in self._events.values():
            for event in waiting:
                event.set()
