"""`Inspector`: what is in the queues, and the operator's actions on it (monitoring).

Reads: queues at a glance (`queue_info`: sizes per state, latency, paused, sampled memory,
totals, today's counts), daily `history`, jobs by state with pagination and filters
(`list_jobs`), one job in full (`job_detail`), live `workers`, periodic `schedules`,
`error_groups` and the Redis server (`server_info`). Actions: run now, delete and kill (to dead)
for one job, a list, a whole state, a filter or an error group (`act` and its shortcuts),
`pause` / `resume`, `delete_queue`.

Every read returns frozen dataclasses of `jobqueue.redis._views` (re-exported here); `as_json`
turns them into the JSON documents `jobqueue ... --json` prints. The parts live in their own
modules (`_inspect_queues`, `_inspect_jobs`, `_inspect_actions`, `_error_groups`, `_schedules`,
`_workers`, `_inspect_server`); this class puts them together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from jobqueue.errors import JobQueueError
from jobqueue.options import CancelResult, JobRecord, JobState
from jobqueue.redis._error_groups import GroupsPart
from jobqueue.redis._inspect_actions import ACTIONS, ActionsPart
from jobqueue.redis._inspect_base import once_more
from jobqueue.redis._inspect_jobs import JobsPart
from jobqueue.redis._inspect_queues import ProgressCallback, QueuesPart
from jobqueue.redis._inspect_server import ServerPart
from jobqueue.redis._keys import queues_set
from jobqueue.redis._schedules import SchedulesPart
from jobqueue.redis._views import (
    ActionResult,
    DayCount,
    ErrorGroup,
    JobDetail,
    JobPage,
    QueueInfo,
    RunningJob,
    ScheduleInfo,
    ServerInfo,
    WorkerInfo,
    as_json,
)
from jobqueue.redis._workers import live_workers

__all__ = [
    "ACTIONS",
    "ActionResult",
    "DayCount",
    "ErrorGroup",
    "Inspector",
    "JobDetail",
    "JobPage",
    "JobRecord",
    "ProgressCallback",
    "QueueInfo",
    "QueueStats",
    "RunningJob",
    "ScheduleInfo",
    "ServerInfo",
    "WorkerInfo",
    "as_json",
]


@dataclass(frozen=True, slots=True)
class QueueStats:
    """Jobs per state in one queue, and its lifetime counters (see also `QueueInfo`)."""

    queue: str
    pending: int
    scheduled: int
    active: int
    retry: int
    dead: int
    completed: int
    paused: bool
    processed_total: int
    failed_total: int
    stale_total: int = 0
    """Acknowledgements refused because their delivery no longer owned the job."""


class Inspector(QueuesPart, JobsPart, ActionsPart, GroupsPart, SchedulesPart, ServerPart):
    """Reads and manages the queues of a started `RedisJobBroker`."""

    async def queues(self) -> list[str]:
        """Every queue name producers or workers have used."""
        key = queues_set(self.broker.settings.key_prefix)
        members = cast(set[bytes], await once_more(lambda: self.broker.client.smembers(key)))
        return sorted(m.decode() for m in members)

    async def stats(self) -> list[QueueStats]:
        """Counts for every configured queue, in one round trip."""
        infos = await self.queue_info(memory=False)
        return [
            QueueStats(
                queue=i.queue,
                pending=i.pending,
                scheduled=i.scheduled,
                active=i.active,
                retry=i.retry,
                dead=i.dead,
                completed=i.completed,
                paused=i.paused,
                processed_total=i.processed_total,
                failed_total=i.failed_total,
                stale_total=i.stale_total,
            )
            for i in infos
        ]

    async def job(self, job_id: str, queue: str | None = None) -> JobRecord | None:
        """A job's record, looked up in `queue` or in every configured queue."""
        found = await self.job_detail(job_id, queue)
        return found.job if found is not None else None

    async def jobs(self, queue: str, state: JobState | str, limit: int = 50) -> list[JobRecord]:
        """Up to `limit` jobs of a queue in one state (oldest first), page after page."""
        found: list[JobRecord] = []
        offset: int | None = 0
        while offset is not None and len(found) < limit:
            page = await self.list_jobs(
                queue, state, offset=offset, limit=min(10_000, limit - len(found))
            )
            found += page.jobs
            offset = page.next_offset
        return found

    async def delete(self, job_id: str, queue: str) -> bool:
        """Delete a waiting, dead or completed job and release its unique lock.

        Raises:
            JobQueueError: The job is running; a worker holds it.
        """
        self._keys(queue)
        call = self.broker.calls.delete(queue, job_id)
        result = await once_more(lambda: self.broker.scripts.call(*call))
        if int(result) < 0:
            raise JobQueueError(f"job {job_id!r} is running; delete it once it has finished")
        return bool(result)

    async def run_now(self, job_id: str, queue: str) -> bool:
        """Move a dead, retry-waiting or scheduled job to pending, with a fresh retry count."""
        self._keys(queue)
        call = self.broker.calls.revive(queue, job_id)
        return bool(await once_more(lambda: self.broker.scripts.call(*call)))

    async def cancel(self, job_id: str, queue: str | None = None) -> CancelResult:
        """Cancel a job: removed if it waits, stopped if it runs ([Job control](job-control.md))."""
        return await once_more(lambda: self.broker.cancel(job_id, queue))

    async def pause(self, queue: str) -> None:
        """Stop workers from fetching from `queue` (producers can still enqueue)."""
        key = self._keys(queue).paused
        await once_more(lambda: self.broker.client.set(key, "1"))

    async def resume(self, queue: str) -> None:
        """Let workers fetch from `queue` again."""
        key = self._keys(queue).paused
        await once_more(lambda: self.broker.client.delete(key))

    async def workers(self, queue: str | None = None) -> list[WorkerInfo]:
        """The live worker processes (those serving `queue`, if given), by host and pid.

        A worker that stops renewing its record (SIGKILLed, cut off from Redis) is gone from
        this list within one lease timeout.
        """
        prefix = self.broker.settings.key_prefix
        found = await once_more(lambda: live_workers(self.broker.client, prefix))
        return [w for w in found if queue is None or queue in w.queues]
