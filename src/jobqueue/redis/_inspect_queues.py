"""The inspector's view of whole queues: sizes, latency, memory, history; deleting a queue."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import Any

from jobqueue.errors import JobQueueError
from jobqueue.redis._inspect_base import InspectorBase, integer, once_more
from jobqueue.redis._keys import QueueKeys
from jobqueue.redis._views import DayCount, QueueInfo

__all__ = ["ProgressCallback", "QueuesPart"]

ProgressCallback = Callable[[int, int], None]
"""Told `(jobs handled so far, jobs to handle)` as a long action goes on."""


class QueuesPart(InspectorBase):
    """Queues as a whole."""

    async def queue_info(
        self, queues: Sequence[str] | None = None, *, memory: bool = True, samples: int = 5
    ) -> list[QueueInfo]:
        """Every configured queue (or those named) at a glance, in one round trip.

        Args:
            queues: The queues to read; every configured queue when omitted.
            memory: Also estimate each queue's Redis memory (by sampling `samples` keys per
                state with `MEMORY USAGE`; never by scanning the queue).
            samples: Keys sampled per state for the memory estimate.
        """
        names = list(queues) if queues else list(self.broker.keys)
        keys = [self._keys(name) for name in names]
        calls = [self.calls.info(k) for k in keys]
        if memory:
            calls += [self.calls.memory(k, samples) for k in keys]
        replies = await self._batch(calls)
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        sizes = replies[len(keys) :] if memory else [None] * len(keys)
        return [
            _info(name, reply, size)
            for name, reply, size in zip(names, replies[: len(keys)], sizes, strict=True)
        ]

    async def history(self, queue: str, days: int = 7) -> list[DayCount]:
        """Processed, failed and dead counts per UTC day, oldest first, today last.

        Days are counted on the Redis server's clock; each day is kept for 90 days.
        """
        if not 1 <= days <= 90:
            raise JobQueueError(f"days must be 1 to 90, got {days}")
        k = self._keys(queue)
        seconds, _ = await once_more(self.broker.client.time)
        today = int(seconds) // 86400

        async def read() -> list[Any]:
            async with self.broker.client.pipeline(transaction=False) as pipe:
                for day in range(today - days + 1, today + 1):
                    pipe.hmget(k.history(day), "processed", "failed", "dead")
                return list(await pipe.execute())

        replies = await once_more(read)
        epoch = date(1970, 1, 1)
        return [
            DayCount(
                day=epoch + timedelta(days=today - days + 1 + i),
                processed=integer(p),
                failed=integer(f),
                dead=integer(d),
            )
            for i, (p, f, d) in enumerate(replies)
        ]

    async def delete_queue(
        self, queue: str, *, force: bool = False, progress: ProgressCallback | None = None
    ) -> int:
        """Delete a queue: its jobs (with `force`), counters, history, error groups and name.

        Returns:
            How many jobs were deleted with it.

        Raises:
            JobQueueError: It holds jobs and `force` is not given, or a worker holds one of its
                jobs (stop its workers first). Workers that still serve it record its name again
                when they start.
        """
        k = await self._known_keys(queue)
        (reply,) = await self._batch([self.calls.info(k)])
        if isinstance(reply, Exception):
            raise reply
        info = _info(queue, reply, None)
        if info.active:
            raise JobQueueError(
                f"queue {queue!r} has {info.active} active jobs; stop its workers first"
            )
        if info.size and not force:
            raise JobQueueError(
                f"queue {queue!r} holds {info.size} jobs; delete them with it with force=True "
                "(jobqueue delete-queue --force)"
            )
        return await self._purge(k, info.size, progress)

    async def _purge(self, k: QueueKeys, total: int, progress: ProgressCallback | None) -> int:
        deleted = 0
        while True:
            forgotten, state = await self._call(self.calls.purge(k))
            if int(state) < 0:
                raise JobQueueError(f"queue {k.queue!r} got an active job; stop its workers first")
            deleted += int(forgotten)
            if progress is not None:
                progress(deleted, max(total, deleted))
            if int(state) == 1:
                return deleted


def _info(name: str, reply: list[Any], memory: Any) -> QueueInfo:
    pending, active, scheduled, retry, dead, completed, paused = (int(v) for v in reply[:7])
    processed, failed, dead_total, stale, latency_ms, today_p, today_f, groups = (
        int(v) for v in reply[7:15]
    )
    return QueueInfo(
        queue=name,
        size=pending + active + scheduled + retry + dead + completed,
        pending=pending,
        active=active,
        scheduled=scheduled,
        retry=retry,
        dead=dead,
        completed=completed,
        paused=bool(paused),
        latency=latency_ms / 1000,
        memory_bytes=int(memory) if memory is not None else None,
        processed_total=processed,
        failed_total=failed,
        dead_total=dead_total,
        stale_total=stale,
        processed_today=today_p,
        failed_today=today_f,
        error_groups=groups,
    )
