"""`RecordingQueue`: a `Queue` for unit tests that records what was enqueued and runs nothing."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import TypeAdapter

from jobqueue._ends import Waiters
from jobqueue._resolve import JobRef, resolve
from jobqueue._shortcuts import NO_OPTIONS, EnqueueShortcuts
from jobqueue._status import JobStatus, wait_for_result
from jobqueue.errors import DuplicateJobError, JobQueueError, QueueClosedError
from jobqueue.jobs import JobRegistry, JobSpec, JobType
from jobqueue.options import CancelResult, EnqueueOptions, JobInfo, JobState, Progress
from jobqueue.queue import EnqueueItem

__all__ = ["EnqueuedJob", "RecordingQueue"]


@dataclass(frozen=True, slots=True)
class EnqueuedJob:
    """One recorded enqueue: the job type, the payload as given, its JSON form, and the options."""

    job_type: str
    payload: Any
    json: Any
    options: EnqueueOptions
    info: JobInfo


class RecordingQueue(EnqueueShortcuts):
    """Records enqueues instead of storing them, like the reference's `MockQueue`.

    It refuses what the real queue refuses (it resolves options with the same code): payloads
    that are not JSON or do not match the payload type a `registry` (or a `JobType`) declares,
    unknown queues, unique jobs without a TTL, and a reused job id. Defaults of known job types
    apply as in the real queue. Unique locks hold for the life of the recording, so a test can
    assert that a second unique enqueue raises `DuplicateJobError`.

    Nothing runs, so a test decides how recorded jobs end: `finish(job_id, result)` or
    `fail(job_id, error)`; `cancel()`, `result()` (and `JobInfo.result()`) and `progress()`
    then behave as on the real queue.
    """

    def __init__(
        self,
        registry: JobRegistry | None = None,
        *,
        queues: tuple[str, ...] = ("critical", "default", "low"),
        default_queue: str = "default",
    ) -> None:
        self.registry = registry
        self.queues = queues
        self.default_queue = default_queue
        self.jobs: list[EnqueuedJob] = []
        self.closed = False
        self._unique: dict[str, str] = {}
        self._ends: dict[str, JobStatus] = {}
        self._progress: dict[str, Progress] = {}
        self._waiters = Waiters()
        self._result_types: dict[str, TypeAdapter[Any]] = {}

    async def enqueue_with_options(
        self, job_type: JobRef, payload: Any, opts: EnqueueOptions
    ) -> JobInfo:
        """Record a job with options."""
        return self._record(job_type, payload, opts)

    async def enqueue_many(self, jobs: Iterable[EnqueueItem]) -> list[JobInfo | JobQueueError]:
        """Record a batch; duplicates are reported in place, like the real queue."""
        results: list[JobInfo | JobQueueError] = []
        for job in jobs:
            opts = job[2] if len(job) == 3 else NO_OPTIONS
            try:
                results.append(self._record(job[0], job[1], opts))
            except DuplicateJobError as exc:
                results.append(exc)
        return results

    async def close(self) -> None:
        """Mark the queue closed; later enqueues raise `QueueClosedError`."""
        self.closed = True

    # -- job control ------------------------------------------------------------------------

    async def cancel(self, job_id: str) -> CancelResult:
        """Cancel a recorded job that has not ended."""
        if self._job(job_id) is None:
            return CancelResult.NOT_FOUND
        if job_id in self._ends:
            return CancelResult.FINISHED
        self._end(job_id, JobStatus(JobState.CANCELLED, error="cancelled"))
        return CancelResult.CANCELLED

    async def result(
        self,
        job_id: str,
        timeout: float | None = None,
        *,
        job_type: JobType[Any, Any] | None = None,
    ) -> Any:
        """Wait until the test ends the job (`finish`, `fail`, `cancel`); as `Queue.result`."""
        if job_type is not None and job_type.result_adapter is not None:
            self._result_types[job_type.name] = job_type.result_adapter
        return await wait_for_result(
            job_id, self._status, self._waiters, timeout, self._result_type
        )

    async def progress(self, job_id: str) -> Progress | None:
        """What `report_progress` set for the job."""
        return self._progress.get(job_id)

    def finish(self, job_id: str, result: Any = None) -> None:
        """End a recorded job as completed with `result` (stored as JSON, as a worker would)."""
        self._end(job_id, JobStatus(JobState.COMPLETED, result=orjson.dumps(result, default=str)))

    def fail(self, job_id: str, error: str = "failed", *, cancelled: bool = False) -> None:
        """End a recorded job dead (or cancelled) with `error`."""
        state = JobState.CANCELLED if cancelled else JobState.DEAD
        self._end(job_id, JobStatus(state, error=error))

    def report_progress(self, job_id: str, fraction: float, message: str = "") -> None:
        """Set what `progress()` returns for a job."""
        self._progress[job_id] = Progress(fraction, message, datetime.now(UTC))

    def _end(self, job_id: str, status: JobStatus) -> None:
        job = self._job(job_id)
        if job is None:
            raise KeyError(f"no job {job_id!r} was recorded")
        self._ends[job_id] = replace(status, job_type=job.job_type)
        self._waiters.ended(job_id)

    def _job(self, job_id: str) -> EnqueuedJob | None:
        return next((job for job in self.jobs if job.info.id == job_id), None)

    async def _status(self, job_id: str) -> JobStatus | None:
        if job_id in self._ends:
            return self._ends[job_id]
        job = self._job(job_id)
        if job is None:
            return None
        return JobStatus(
            JobState.PENDING, progress=self._progress.get(job_id), job_type=job.job_type
        )

    def _result_type(self, job_type: str) -> TypeAdapter[Any] | None:
        spec = self.registry.get(job_type) if self.registry is not None else None
        if spec is not None and spec.result_adapter is not None:
            return spec.result_adapter
        return self._result_types.get(job_type)

    async def _info_result(self, info: JobInfo[Any], timeout: float | None) -> Any:
        return await self.result(info.id, timeout)

    # -- assertions -------------------------------------------------------------------------

    def of_type(self, job_type: JobRef) -> list[EnqueuedJob]:
        """The recorded jobs of one type, in order."""
        name = job_type.name if isinstance(job_type, JobType) else job_type
        return [job for job in self.jobs if job.job_type == name]

    def assert_enqueued(self, job_type: JobRef, count: int | None = None, **fields: Any) -> None:
        """Fail unless such jobs were enqueued (exactly `count`, if given).

        With `fields`, one of them must have a JSON payload holding those values.
        """
        jobs = self.of_type(job_type)
        name = job_type.name if isinstance(job_type, JobType) else job_type
        if count is not None and len(jobs) != count:
            raise AssertionError(f"expected {count} {name!r} job(s), got {len(jobs)}")
        if not jobs:
            raise AssertionError(f"no {name!r} job was enqueued; got {self._summary()}")
        if fields and not any(_contains(job.json, fields) for job in jobs):
            raise AssertionError(f"no {name!r} job has {fields}; got {[j.json for j in jobs]}")

    def assert_nothing_enqueued(self) -> None:
        """Fail if any job was enqueued."""
        if self.jobs:
            raise AssertionError(f"expected no jobs, got {self._summary()}")

    def clear(self) -> None:
        """Forget what was recorded."""
        self.jobs.clear()
        self._unique.clear()

    def _summary(self) -> list[str]:
        return [job.job_type for job in self.jobs]

    def _record(self, job: JobRef, payload: Any, opts: EnqueueOptions) -> JobInfo:
        if self.closed:
            raise QueueClosedError("the queue is closed")
        sub = resolve(
            job,
            payload,
            opts,
            specs=self.registry.get if self.registry is not None else _no_spec,
            queues=self.queues,
            default_queue=self.default_queue,
            new_id=lambda: uuid.uuid4().hex,
        )
        sub.reader = self._info_result
        if isinstance(job, JobType) and job.result_adapter is not None:
            self._result_types[job.name] = job.result_adapter
        if any(j.info.id == sub.id for j in self.jobs):
            raise DuplicateJobError(sub.job_type, sub.queue, sub.id)
        if sub.unique_digest is not None:
            key = f"{sub.queue}:{sub.unique_digest}"
            if key in self._unique:
                raise DuplicateJobError(sub.job_type, sub.queue, self._unique[key])
            self._unique[key] = sub.id
        now = time.time()
        info = sub.info(JobState.SCHEDULED if sub.due(now) > now else JobState.PENDING, now)
        self.jobs.append(EnqueuedJob(sub.job_type, payload, sub.payload, opts, info))
        return info


def _no_spec(job_type: str) -> JobSpec | None:
    return None


def _contains(value: Any, fields: dict[str, Any]) -> bool:
    return isinstance(value, dict) and all(value.get(k) == v for k, v in fields.items())
