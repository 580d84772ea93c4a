"""`MemoryJobBroker`: the whole job life cycle in Python structures, for development and tests.

Select it with `QUEUE_DRIVER=memory`. It mirrors `RedisJobBroker` (delays, retries through
`decide()`, dead jobs with the same bounds, unique locks, fenced acknowledgements, weighted or
strict priority, the concurrency limit, graceful shutdown) but keeps every job in this process,
so nothing survives it.

Jobs run without a separate worker: a broker started as a producer (`JobQueue(broker)`,
`connect()`) runs a `JobReceiver` in a background task. A broker started as a worker
(`taskiq worker`, `jobqueue.testing.run_worker`) leaves receiving to its runner.

For tests, `wait_idle()` waits until the work is done; `job()`, `dead_jobs()` and `stats()` show
what is stored (`record()` shows a job as the Redis inspector does).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import orjson
from taskiq.events import TaskiqEvents
from taskiq.utils import maybe_awaitable

from jobqueue._attempt import Delivery, Outcome
from jobqueue._memory_store import MemoryStore, StoredJob
from jobqueue._order import queue_order
from jobqueue._resolve import Submission
from jobqueue._status import JobStatus
from jobqueue._wire import MalformedRecordError, decode
from jobqueue.broker import JobBroker
from jobqueue.errors import JobQueueError, UnknownQueueError
from jobqueue.jobs import JobRegistry
from jobqueue.options import CancelResult, JobInfo, JobRecord
from jobqueue.receiver import JobReceiver
from jobqueue.settings import QueueSettings

__all__ = ["MemoryJobBroker"]


class MemoryJobBroker(JobBroker):
    """A Taskiq broker that keeps jobs in memory and, as a producer, runs them in-process.

    Args:
        settings: Queue settings; read from the environment when omitted.
        registry: Jobs to register on the broker.
    """

    def __init__(
        self, settings: QueueSettings | None = None, *, registry: JobRegistry | None = None
    ) -> None:
        super().__init__(settings, registry=registry)
        self.store = MemoryStore(self.settings, on_due=self._forward, on_end=self.waiters.ended)
        self._changed = asyncio.Event()
        self._due_timer: asyncio.TimerHandle | None = None
        self._finish: asyncio.Event | None = None
        self._receiving: asyncio.Task[None] | None = None

    # -- life cycle ---------------------------------------------------------------------------

    async def startup(self) -> None:
        """Start the broker; as a producer, also start receiving jobs in this process."""
        self._changed = asyncio.Event()
        await super().startup()
        self._forward()  # re-arm the timer of jobs kept from an earlier run
        if self.is_worker_process or self._receiving is not None:
            return
        # This process is the worker too, so run worker hooks as Taskiq's InMemoryBroker does.
        await self._run_event(TaskiqEvents.WORKER_STARTUP)
        receiver = JobReceiver(self, max_async_tasks=self.settings.concurrency, run_startup=False)
        self._finish = asyncio.Event()
        self._receiving = asyncio.create_task(
            receiver.listen(self._finish), name="jobqueue-memory-receiver"
        )

    async def shutdown(self) -> None:
        """Stop receiving (running jobs get `shutdown_timeout`), then put held jobs back."""
        try:
            if self._receiving is not None and self._finish is not None:
                self._finish.set()
                try:
                    await self._receiving
                finally:
                    self._receiving = None
                    await self._run_event(TaskiqEvents.WORKER_SHUTDOWN)
        finally:
            self.attempts.end_drain()
            if self._due_timer is not None:
                self._due_timer.cancel()
            self._due_timer = None
            await self.put_back_held()
            await super().shutdown()

    async def _run_event(self, event: TaskiqEvents) -> None:
        for handler in self.event_handlers[event]:
            await maybe_awaitable(handler(self.state))

    # -- producing ----------------------------------------------------------------------------

    async def submit(self, submissions: Sequence[Submission]) -> list[JobInfo | JobQueueError]:
        """Store jobs; per job, its info or why it was refused (as `enqueue.lua` does)."""
        self.store.prune_completed()
        results: list[JobInfo | JobQueueError] = []
        for sub in submissions:
            if sub.queue not in self.store.pending:
                results.append(UnknownQueueError(sub.queue, self.settings.queue_names))
            else:
                results.append(self.store.store(sub))
        self._changed.set()
        self._forward()  # arm the timer for new scheduled jobs, wake the listener for pending
        return results

    def _forward(self) -> None:
        """Move due scheduled and retry jobs to pending, then re-arm the single timer."""
        moved, next_due = self.store.forward()
        if self._due_timer is not None:
            self._due_timer.cancel()
            self._due_timer = None
        if next_due is not None:
            self._due_timer = asyncio.get_running_loop().call_later(next_due, self._forward)
        if moved or any(self.store.pending.values()):
            self.wake()

    def wake(self) -> None:
        """Make an idle listener fetch now, and idle waiters look again."""
        super().wake()
        self._changed.set()

    # -- consuming ----------------------------------------------------------------------------

    def _lookahead(self) -> int:
        return 0  # a fetch costs no round trip here: lease only what runs

    async def _fetch(self, count: int) -> list[Delivery]:
        self._forward()
        return self.store.fetch(queue_order(self.settings), count)

    def _apply(self, delivery: Delivery, outcome: Outcome) -> None:
        try:
            if not self.store.apply(delivery, outcome):
                self.stale([delivery], str(outcome.kind))
        finally:
            self.attempts.released(delivery)
            self._changed.set()

    async def _requeue(self, deliveries: Sequence[Delivery]) -> int:
        moved = self.store.requeue(deliveries)
        if moved:
            self.wake()
        return moved

    # -- job control ------------------------------------------------------------------------

    async def cancel(self, job_id: str, queue: str | None = None) -> CancelResult:
        """Cancel a job: removed if it waits, stopped if it runs (see `CancelResult`)."""
        outcome = self.store.cancel(job_id)
        if outcome is CancelResult.STOPPING:
            self.cancel_requested(job_id)
        self._changed.set()
        return outcome

    async def status(self, job_id: str, queue: str | None = None) -> JobStatus | None:
        """A job's state and what it left."""
        return self.store.status(job_id)

    async def report_progress(self, delivery: Delivery, fraction: float, message: str) -> None:
        """Keep a running job's progress."""
        self.store.report(delivery, fraction, message)

    # -- inspection ---------------------------------------------------------------------------

    def job(self, job_id: str) -> dict[str, Any] | None:
        """The stored job as a dict (state, retried, error, traceback, epoch times), or `None`.

        A completed job is deleted at once unless `completed_retention` keeps it.
        """
        self.store.prune_completed()
        job = self.store.jobs.get(job_id)
        return None if job is None else {**asdict(job), "state": job.state.value}

    def record(self, job_id: str) -> JobRecord | None:
        """The stored job as the Redis driver's `Inspector.job()` shows it, or `None`."""
        self.store.prune_completed()
        job = self.store.jobs.get(job_id)
        return None if job is None else _record(job)

    def dead_jobs(self, queue: str | None = None) -> list[dict[str, Any]]:
        """The dead jobs of one queue (or of all), as dicts, oldest first."""
        names = self.settings.queue_names if queue is None else (queue,)
        records = [self.job(job_id) for name in names for job_id in self.store.dead[name]]
        return sorted((r for r in records if r), key=lambda r: r["failed_at"])

    def stats(self, queue: str | None = None) -> dict[str, int]:
        """Counters `processed`, `failed` (every failed attempt) and `dead`, of one queue or all."""
        names = self.settings.queue_names if queue is None else (queue,)
        counters = self.store.stats
        return {k: sum(counters[n][k] for n in names) for k in ("processed", "failed", "dead")}

    def _busy(self, include_scheduled: bool) -> str:
        self._forward()
        pending = sum(len(p) for p in self.store.pending.values())
        waiting = self.store.waiting()
        held = len(self.attempts)
        if pending or held or (include_scheduled and waiting):
            return f"{pending} pending, {held} active, {waiting} scheduled/retry"
        return ""

    # A bounded wait by default is what tests want, hence the `timeout` parameter.
    async def wait_idle(
        self,
        timeout: float = 5.0,
        *,
        include_scheduled: bool = False,
    ) -> None:
        """Wait until no job is pending or running (due scheduled and retry jobs count).

        Something must be running jobs: a broker started as a producer, or `run_worker`.

        Args:
            timeout: Seconds to wait at most.
            include_scheduled: Also wait for jobs due later (delayed jobs, retries).

        Raises:
            TimeoutError: The work was not done within `timeout`.
        """
        try:
            async with asyncio.timeout(timeout):
                while self._busy(include_scheduled):
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            busy = self._busy(include_scheduled)
            raise TimeoutError(f"the memory queue is not idle after {timeout} s: {busy}") from None


def _record(job: StoredJob) -> JobRecord:
    try:
        payload = decode(job.record).payload
    except MalformedRecordError:  # pragma: no cover - this driver writes its records itself
        payload = None
    return JobRecord(
        id=job.id,
        queue=job.queue,
        job_type=job.job_type,
        state=job.state,
        payload=payload,
        retried=job.retried,
        max_retry=job.max_retry,
        error=job.error or None,
        traceback=job.traceback or None,
        enqueued_at=_time(job.enqueued_at),
        process_at=_time(job.process_at),
        failed_at=_time(job.failed_at),
        deliveries=job.deliveries,
        lost=job.lost,
        timeout=job.timeout,
        progress=job.progress,
        result=orjson.loads(job.result) if job.result else None,
    )


def _time(seconds: float | None) -> datetime | None:
    return datetime.fromtimestamp(seconds, UTC) if seconds else None
