"""The memory driver's store: what the Redis driver's Lua scripts do, on Python structures.

Every operation is one synchronous call, so like a script it runs without interruption on the
event loop. Times of jobs (due, failed, completed) are epoch seconds; unique locks expire on the
monotonic clock.
"""

from __future__ import annotations

import heapq
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from jobqueue._attempt import CANCELLED, Delivery, Outcome, OutcomeKind
from jobqueue._resolve import Submission
from jobqueue._status import JobStatus
from jobqueue._wire import record
from jobqueue.errors import DuplicateJobError, JobQueueError
from jobqueue.options import CancelResult, JobInfo, JobState, Progress
from jobqueue.settings import QueueSettings

__all__ = ["MemoryStore", "StoredJob"]

_WAITING = (JobState.SCHEDULED, JobState.RETRY)
_UniqueKey = tuple[str, str, str]


@dataclass(slots=True, kw_only=True)
class StoredJob:
    """One stored job: its record and what its life changed (the Redis attempt hash)."""

    id: str
    job_type: str
    queue: str
    record: bytes
    state: JobState
    enqueued_at: float
    process_at: float
    max_retry: int | None
    timeout: float | None
    unique: _UniqueKey | None = None
    retried: int = 0
    deliveries: int = 0
    lost: int = 0
    error: str = ""
    traceback: str = ""
    failed_at: float | None = None
    completed_at: float | None = None
    result_ttl: float | None = None
    result: bytes | None = None
    progress: Progress | None = None
    cancel_requested: bool = False


class MemoryStore:
    """Jobs, queues, the due heap, dead and completed jobs, unique locks and counters."""

    def __init__(
        self,
        settings: QueueSettings,
        on_due: Callable[[], None],
        on_end: Callable[[str], None] = lambda job_id: None,
    ) -> None:
        self.settings = settings
        names = settings.queue_names
        self.jobs: dict[str, StoredJob] = {}
        self.pending: dict[str, deque[str]] = {name: deque() for name in names}
        self.dead: dict[str, dict[str, float]] = {name: {} for name in names}  # id: failed_at
        self.stats = {
            name: {"processed": 0, "failed": 0, "dead": 0, "cancelled": 0} for name in names
        }
        self._due: list[tuple[float, int, str]] = []  # scheduled and retry: (due, seq, id)
        self._seq = 0
        self._completed: deque[tuple[float, str]] = deque()  # (expires_at, id), oldest first
        self._locks: dict[_UniqueKey, tuple[str, float]] = {}  # key: (holder id, expiry)
        self._on_due = on_due
        self._on_end = on_end

    # -- enqueue ------------------------------------------------------------------------------

    def store(self, sub: Submission) -> JobInfo | JobQueueError:
        """Store one job, as `enqueue.lua` does."""
        if sub.id in self.jobs:
            return DuplicateJobError(sub.job_type, sub.queue, sub.id)
        unique: _UniqueKey | None = None
        if sub.unique_ttl:
            unique = (sub.queue, sub.job_type, sub.unique_digest or "")
            held = self._locks.get(unique)
            if held is not None and held[1] > time.monotonic():
                return DuplicateJobError(sub.job_type, sub.queue, held[0])
            self._locks[unique] = (sub.id, time.monotonic() + sub.unique_ttl)
        now = time.time()
        due = sub.due(now)
        state = JobState.SCHEDULED if due > now else JobState.PENDING
        job = StoredJob(
            id=sub.id,
            job_type=sub.job_type,
            queue=sub.queue,
            record=record(sub.job_type, int(now * 1000), sub.tail),
            state=state,
            enqueued_at=now,
            process_at=due,
            max_retry=sub.max_retry,
            timeout=sub.timeout,
            unique=unique,
            result_ttl=sub.result_ttl,
        )
        self.jobs[sub.id] = job
        if state is JobState.SCHEDULED:
            self._push_due(job)
        else:
            self.pending[sub.queue].append(sub.id)
        return sub.info(state, now)

    # -- the due heap -------------------------------------------------------------------------

    def _push_due(self, job: StoredJob) -> None:
        self._seq += 1  # ties keep insertion order and never compare ids
        heapq.heappush(self._due, (job.process_at, self._seq, job.id))

    def forward(self) -> tuple[bool, float | None]:
        """Move due jobs to pending; whether any moved, and the seconds until the next is due."""
        now = time.time()
        moved = False
        while self._due and self._due[0][0] <= now:
            due, _, job_id = heapq.heappop(self._due)
            job = self.jobs.get(job_id)
            if job is None or job.state not in _WAITING or job.process_at != due:
                continue  # a stale entry: the job moved on since it was pushed
            job.state = JobState.PENDING
            self.pending[job.queue].append(job_id)
            moved = True
        return moved, (max(0.0, self._due[0][0] - now) if self._due else None)

    # -- the worker ---------------------------------------------------------------------------

    def fetch(self, order: Iterable[str], count: int) -> list[Delivery]:
        """Lease up to `count` pending jobs in this fetch's queue order."""
        batch: list[Delivery] = []
        for name in order:
            pending = self.pending[name]
            while pending and len(batch) < count:
                job = self.jobs.get(pending.popleft())
                if job is None:
                    continue
                job.state = JobState.ACTIVE
                job.deliveries += 1
                batch.append(
                    Delivery(
                        id=job.id,
                        queue=name,
                        token=str(job.deliveries),
                        raw=job.record,
                        retried=job.retried,
                    )
                )
        return batch

    def held(self, delivery: Delivery) -> StoredJob | None:
        """The job, if this delivery still holds it (the fence of the Lua scripts)."""
        job = self.jobs.get(delivery.id)
        if job is None or job.state is not JobState.ACTIVE or str(job.deliveries) != delivery.token:
            return None
        return job

    def apply(self, delivery: Delivery, outcome: Outcome) -> bool:
        """Carry out an outcome, as the Redis scripts do; False for a stale delivery."""
        job = self.held(delivery)
        if job is None:
            return False
        stats = self.stats[delivery.queue]
        now = time.time()
        if outcome.kind is OutcomeKind.COMPLETE:
            stats["processed"] += 1
            self._complete(job, now, outcome.result)
        elif outcome.kind is OutcomeKind.RETRY:
            stats["failed"] += 1
            job.retried += 1  # the unique lock stays held until success or its TTL
            job.state, job.error, job.traceback = JobState.RETRY, outcome.error, outcome.traceback
            job.failed_at, job.process_at = now, now + outcome.delay
            self._push_due(job)
            self._on_due()
        elif outcome.kind in (OutcomeKind.DEAD, OutcomeKind.CANCELLED):
            if outcome.counts_as_failure:
                stats["failed"] += 1
            self._bury(job, outcome, now)
        else:
            self.requeue([delivery])
        return True

    def _complete(self, job: StoredJob, now: float, result: bytes | None) -> None:
        self._unlock(job)  # released on success, as in complete.lua
        retention = max(self.settings.completed_retention, job.result_ttl or 0.0)
        if retention > 0:
            job.state, job.completed_at, job.result = JobState.COMPLETED, now, result
            self._completed.append((now + retention, job.id))
            self.prune_completed()
        else:
            del self.jobs[job.id]
        self._on_end(job.id)

    def _unlock(self, job: StoredJob) -> None:
        held = self._locks.get(job.unique) if job.unique is not None else None
        if job.unique is not None and held is not None and held[0] == job.id:
            del self._locks[job.unique]

    def _bury(self, job: StoredJob, outcome: Outcome, now: float) -> None:
        """Move a job to dead, then bound the dead set by age and count (dropping records).

        A cancelled job goes there too, as `cancelled`, and gives up its unique lock.
        """
        cancelled = outcome.kind is OutcomeKind.CANCELLED
        job.state = JobState.CANCELLED if cancelled else JobState.DEAD
        job.error, job.traceback, job.failed_at = outcome.error, outcome.traceback, now
        if cancelled:
            self._unlock(job)
        dead = self.dead[job.queue]
        dead[job.id] = now
        self.stats[job.queue]["cancelled" if cancelled else "dead"] += 1
        self._on_end(job.id)
        cutoff = now - self.settings.dead_max_age
        while dead:  # oldest first: stop at the first one young enough, once the count fits
            oldest, failed_at = next(iter(dead.items()))
            if failed_at > cutoff and len(dead) <= self.settings.dead_max_jobs:
                break
            del dead[oldest]
            self.jobs.pop(oldest, None)

    def prune_completed(self) -> None:
        """Forget completed jobs whose retention ended."""
        now = time.time()
        while self._completed and self._completed[0][0] <= now:
            _, job_id = self._completed.popleft()
            job = self.jobs.get(job_id)
            if job is not None and job.state is JobState.COMPLETED:
                del self.jobs[job_id]

    def requeue(self, deliveries: Iterable[Delivery]) -> int:
        """Put held jobs back to the front of pending, not counted as failures."""
        moved = 0
        for delivery in reversed(list(deliveries)):  # the first one given runs first
            job = self.held(delivery)
            if job is not None:
                job.state = JobState.PENDING
                self.pending[job.queue].appendleft(job.id)
                moved += 1
        return moved

    def cancel(self, job_id: str) -> CancelResult:
        """Cancel a job, as `cancel.lua` does (a running one is only marked)."""
        job = self.jobs.get(job_id)
        if job is None:
            return CancelResult.NOT_FOUND
        if job.state in (JobState.COMPLETED, JobState.DEAD, JobState.CANCELLED):
            return CancelResult.FINISHED
        if job.state is JobState.ACTIVE:
            job.cancel_requested = True
            return CancelResult.STOPPING
        if job.state is JobState.PENDING:
            self.pending[job.queue].remove(job_id)
        # A scheduled or retry job's entry in the due heap goes stale with its state.
        self._bury(job, CANCELLED, time.time())
        return CancelResult.CANCELLED

    def report(self, delivery: Delivery, fraction: float, message: str) -> None:
        """Keep a running job's progress, while this delivery holds it."""
        job = self.held(delivery)
        if job is not None:
            job.progress = Progress(fraction, message, datetime.now(UTC))

    def status(self, job_id: str) -> JobStatus | None:
        """A job's state and what it left."""
        self.prune_completed()
        job = self.jobs.get(job_id)
        if job is None:
            return None
        return JobStatus(job.state, job.result, job.error, job.progress, job.job_type)

    def waiting(self) -> int:
        """Jobs due later (scheduled or waiting for a retry)."""
        return sum(1 for j in self.jobs.values() if j.state in _WAITING)
