"""`MemoryJobBroker`: the whole job life cycle in Python structures, for development and tests.

Select it with `QUEUE_DRIVER=memory`. It mirrors `RedisJobBroker` (delays, retries through
`decide()`, dead jobs with the same bounds, unique locks, weighted or strict priority, the
concurrency limit, graceful shutdown) but keeps every job in this process, so nothing survives it.

Jobs run without a separate worker: a broker started as a producer (`JobQueue(broker)`,
`connect()`) runs Taskiq's own `Receiver` in a background task. A broker started as a worker
(`taskiq worker`, `jobqueue.testing.run_worker`) leaves receiving to its runner.

For tests, `wait_idle()` waits until the work is done; `job()`, `dead_jobs()` and `stats()` show
what is stored.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections import deque
from collections.abc import AsyncGenerator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from taskiq.events import TaskiqEvents
from taskiq.utils import maybe_awaitable

from jobqueue.broker import Delivery, JobBroker, Outcome, OutcomeKind, Submission, duplicate_error
from jobqueue.errors import JobQueueError, UnknownQueueError
from jobqueue.jobs import JobRegistry
from jobqueue.options import JobInfo, JobState
from jobqueue.settings import QueueSettings

__all__ = ["MemoryJobBroker"]

logger = logging.getLogger("jobqueue.memory")

_WAITING = (JobState.SCHEDULED, JobState.RETRY)
_UniqueKey = tuple[str, str, str]


@dataclass(slots=True, kw_only=True)
class _Job:
    """One stored job: the fields of the Redis job hash."""

    id: str
    job_type: str
    queue: str
    message: bytes
    state: JobState
    enqueued_at: float
    process_at: float
    max_retry: int | None
    timeout: float | None
    unique: _UniqueKey | None = None
    retried: int = 0
    error: str = ""
    traceback: str = ""
    failed_at: float | None = None
    completed_at: float | None = None


class MemoryJobBroker(JobBroker):
    """A Taskiq broker that keeps jobs in memory and, as a producer, runs them in-process.

    Times of jobs (due, failed, completed) are epoch seconds, as in `Submission.process_at`;
    unique locks expire on the monotonic clock.

    Args:
        settings: Queue settings; read from the environment when omitted.
        registry: Jobs to register on the broker.
    """

    def __init__(
        self, settings: QueueSettings | None = None, *, registry: JobRegistry | None = None
    ) -> None:
        super().__init__(settings, registry=registry)
        self._names = names = self.settings.queue_names
        self._jobs: dict[str, _Job] = {}
        self._pending: dict[str, deque[str]] = {name: deque() for name in names}
        self._due: list[tuple[float, int, str]] = []  # scheduled and retry: (due, seq, id)
        self._seq = 0
        self._dead: dict[str, dict[str, float]] = {name: {} for name in names}  # id: failed_at
        self._completed: deque[tuple[float, str]] = deque()  # (expires_at, id), oldest first
        self._locks: dict[_UniqueKey, tuple[str, float]] = {}  # key: (holder id, expiry)
        self._stats = {name: {"processed": 0, "failed": 0, "dead": 0} for name in names}
        self._wakeup = asyncio.Event()
        self._slot_freed = asyncio.Event()
        self._changed = asyncio.Event()
        self._due_timer: asyncio.TimerHandle | None = None
        self._finish: asyncio.Event | None = None
        self._receiving: asyncio.Task[None] | None = None

    # -- life cycle ---------------------------------------------------------------------------

    async def startup(self) -> None:
        """Start the broker; as a producer, also start receiving jobs in this process."""
        # Fresh events: a broker may be started again on another event loop (tests do).
        self._wakeup = asyncio.Event()
        self._slot_freed = asyncio.Event()
        self._changed = asyncio.Event()
        await super().startup()
        self._forward()  # re-arm the timer of jobs kept from an earlier run
        if self.is_worker_process or self._receiving is not None:
            return
        # This process is the worker too, so run worker hooks as Taskiq's InMemoryBroker does.
        await self._run_event(TaskiqEvents.WORKER_STARTUP)
        from jobqueue.receiver import JobReceiver

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
            self.end_drain()
            for timer in (self._due_timer,):
                if timer is not None:
                    timer.cancel()
            self._due_timer = None
            if self.deliveries:
                self.requeue(list(self.deliveries.values()))
            await super().shutdown()

    async def _run_event(self, event: TaskiqEvents) -> None:
        for handler in self.event_handlers[event]:
            await maybe_awaitable(handler(self.state))

    # -- producing ----------------------------------------------------------------------------

    async def submit(self, submissions: Sequence[Submission]) -> list[JobInfo | JobQueueError]:
        """Store jobs; per job, its info or why it was refused (as `enqueue.lua` does)."""
        self._prune_completed()
        results = [self._store(sub) for sub in submissions]
        self._forward()  # arm the timer for new scheduled jobs, wake the listener for pending
        return results

    def _store(self, sub: Submission) -> JobInfo | JobQueueError:
        if sub.queue not in self._pending:
            return UnknownQueueError(sub.queue, self._names)
        if sub.id in self._jobs:
            return duplicate_error("conflict", sub, sub.id)
        unique: _UniqueKey | None = None
        if sub.unique_ttl:
            unique = (sub.queue, sub.job_type, sub.unique_digest or "")
            held = self._locks.get(unique)
            if held is not None and held[1] > time.monotonic():
                return duplicate_error("duplicate", sub, held[0])
            self._locks[unique] = (sub.id, time.monotonic() + sub.unique_ttl)
        now = time.time()
        due = now + sub.delay if sub.delay else (sub.process_at or now)
        due = max(due, now)
        state = JobState.SCHEDULED if due > now else JobState.PENDING
        job = _Job(
            id=sub.id,
            job_type=sub.job_type,
            queue=sub.queue,
            message=sub.message,
            state=state,
            enqueued_at=now,
            process_at=due,
            max_retry=sub.max_retry,
            timeout=sub.timeout,
            unique=unique,
        )
        self._jobs[sub.id] = job
        if state is JobState.SCHEDULED:
            self._push_due(job)
        else:
            self._pending[sub.queue].append(sub.id)
        self._changed.set()
        return sub.info(state, now)

    # -- scheduling ---------------------------------------------------------------------------

    def _push_due(self, job: _Job) -> None:
        self._seq += 1  # ties keep insertion order and never compare ids
        heapq.heappush(self._due, (job.process_at, self._seq, job.id))

    def _forward(self) -> None:
        """Move due scheduled and retry jobs to pending, then re-arm the single timer."""
        now = time.time()
        moved = False
        while self._due and self._due[0][0] <= now:
            due, _, job_id = heapq.heappop(self._due)
            job = self._jobs.get(job_id)
            if job is None or job.state not in _WAITING or job.process_at != due:
                continue  # a stale entry: the job moved on since it was pushed
            job.state = JobState.PENDING
            self._pending[job.queue].append(job_id)
            moved = True
        if self._due_timer is not None:
            self._due_timer.cancel()
            self._due_timer = None
        if self._due:
            delay = max(0.0, self._due[0][0] - now)
            self._due_timer = asyncio.get_running_loop().call_later(delay, self._forward)
        if moved or any(self._pending.values()):
            self.wake()

    def wake(self) -> None:
        """Make an idle listener fetch now, and idle waiters look again."""
        self._wakeup.set()
        self._changed.set()

    # -- consuming ----------------------------------------------------------------------------

    def fetch(self, count: int) -> list[Delivery]:
        """Take up to `count` pending jobs in this fetch's queue order; they become held."""
        batch: list[Delivery] = []
        for name in self.queue_order():
            pending = self._pending[name]
            while pending and len(batch) < count:
                job = self._jobs.get(pending.popleft())
                if job is None:
                    continue
                job.state = JobState.ACTIVE
                delivery = Delivery(id=job.id, queue=name, message=job.message, retried=job.retried)
                self.deliveries[job.id] = delivery
                batch.append(delivery)
        return batch

    async def stream(self) -> AsyncGenerator[Delivery, None]:
        """Yield pending jobs, at most `concurrency` unacknowledged at a time."""
        try:
            while True:
                if len(self.deliveries) >= self.settings.concurrency:
                    self._slot_freed.clear()
                    await self._slot_freed.wait()
                    continue
                self._wakeup.clear()  # before fetching, so a job stored after it wakes us
                self._forward()
                batch = self.fetch(self.settings.concurrency - len(self.deliveries))
                if not batch:
                    await self._wakeup.wait()
                    continue
                for delivery in batch:
                    yield delivery
        finally:
            self.begin_drain()

    def acknowledge(self, delivery: Delivery) -> None:
        """Apply the attempt's outcome at once."""
        try:
            self.apply(delivery, self.decide(delivery))
        finally:
            self.deliveries.pop(delivery.id, None)
            self._slot_freed.set()
            self._changed.set()

    def apply(self, delivery: Delivery, outcome: Outcome) -> None:
        """Carry out the outcome of an attempt, as the Redis driver's scripts do."""
        job = self._jobs.get(delivery.id)
        stats = self._stats[delivery.queue]
        now = time.time()
        if outcome.kind is OutcomeKind.COMPLETE:
            stats["processed"] += 1
            if job is None:
                return
            held = self._locks.get(job.unique) if job.unique is not None else None
            if job.unique is not None and held is not None and held[0] == job.id:
                del self._locks[job.unique]  # released on success only, as in complete.lua
            retention = self.settings.completed_retention
            if retention > 0:
                job.state, job.completed_at = JobState.COMPLETED, now
                self._completed.append((now + retention, job.id))
                self._prune_completed()
            else:
                del self._jobs[job.id]
        elif outcome.kind is OutcomeKind.RETRY:
            if job is None:
                return
            stats["failed"] += 1
            job.retried += 1  # the unique lock stays held until success or its TTL
            job.state, job.error, job.traceback = JobState.RETRY, outcome.error, outcome.traceback
            job.failed_at, job.process_at = now, now + outcome.delay
            self._push_due(job)
            self._forward()
        elif outcome.kind is OutcomeKind.DEAD:
            logger.warning(
                "Job moved to dead",
                extra={"job_id": delivery.id, "queue": delivery.queue, "error": outcome.error},
            )
            if outcome.counts_as_failure:
                stats["failed"] += 1
            if job is not None:
                self._bury(job, outcome, now)
        else:
            self.requeue([delivery])

    def _bury(self, job: _Job, outcome: Outcome, now: float) -> None:
        """Move a job to dead, then bound the dead set by age and count (dropping records)."""
        job.state, job.error, job.traceback = JobState.DEAD, outcome.error, outcome.traceback
        job.failed_at = now
        dead = self._dead[job.queue]
        dead[job.id] = now
        self._stats[job.queue]["dead"] += 1
        cutoff = now - self.settings.dead_max_age
        while dead:  # oldest first: stop at the first one young enough, once the count fits
            oldest, failed_at = next(iter(dead.items()))
            if failed_at > cutoff and len(dead) <= self.settings.dead_max_jobs:
                break
            del dead[oldest]
            self._jobs.pop(oldest, None)

    def _prune_completed(self) -> None:
        now = time.time()
        while self._completed and self._completed[0][0] <= now:
            _, job_id = self._completed.popleft()
            job = self._jobs.get(job_id)
            if job is not None and job.state is JobState.COMPLETED:
                del self._jobs[job_id]

    def requeue(self, deliveries: Sequence[Delivery]) -> int:
        """Put held jobs back to the front of pending, not counted as failures."""
        moved = 0
        for delivery in reversed(deliveries):  # the first one given runs first
            self.deliveries.pop(delivery.id, None)
            job = self._jobs.get(delivery.id)
            if job is not None and job.state is JobState.ACTIVE:
                job.state = JobState.PENDING
                self._pending[job.queue].appendleft(job.id)
                moved += 1
        if moved:
            logger.info("Returned %d unfinished jobs to pending", moved)
            self.wake()
        return moved

    # -- inspection ---------------------------------------------------------------------------

    def job(self, job_id: str) -> dict[str, Any] | None:
        """The stored record of a job (state, retried, error, traceback, times), or `None`.

        A completed job is deleted at once unless `completed_retention` keeps it.
        """
        self._prune_completed()
        job = self._jobs.get(job_id)
        return None if job is None else {**asdict(job), "state": job.state.value}

    def dead_jobs(self, queue: str | None = None) -> list[dict[str, Any]]:
        """Records of the dead jobs of one queue (or of all), oldest first."""
        names = self._names if queue is None else (queue,)
        records = [self.job(job_id) for name in names for job_id in self._dead[name]]
        return sorted((r for r in records if r), key=lambda r: r["failed_at"])

    def stats(self, queue: str | None = None) -> dict[str, int]:
        """Counters `processed`, `failed` (every failed attempt) and `dead`, of one queue or all."""
        names = self._names if queue is None else (queue,)
        return {k: sum(self._stats[n][k] for n in names) for k in ("processed", "failed", "dead")}

    def _busy(self, include_scheduled: bool) -> str:
        self._forward()
        pending = sum(len(p) for p in self._pending.values())
        waiting = sum(1 for j in self._jobs.values() if j.state in _WAITING)
        if pending or self.deliveries or (include_scheduled and waiting):
            return f"{pending} pending, {len(self.deliveries)} active, {waiting} scheduled/retry"
        return ""

    # A bounded wait by default is what tests want, hence the `timeout` parameter.
    async def wait_idle(
        self,
        timeout: float = 5.0,  # noqa: ASYNC109
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
