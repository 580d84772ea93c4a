"""`RecordingQueue`: a `Queue` for unit tests that records what was enqueued and runs nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from jobqueue.codec import canonical_digest, dump_validated, to_jsonable
from jobqueue.errors import (
    DuplicateJobError,
    InvalidOptionsError,
    JobQueueError,
    QueueClosedError,
    UnknownQueueError,
)
from jobqueue.jobs import JobRegistry, JobSpec, JobType, validate_payload
from jobqueue.options import EnqueueOptions, JobInfo, JobState, as_seconds
from jobqueue.queue import EnqueueItem, JobRef

__all__ = ["EnqueuedJob", "RecordingQueue"]


@dataclass(frozen=True, slots=True)
class EnqueuedJob:
    """One recorded enqueue: the job type, the payload as given, its JSON form, and the options."""

    job_type: str
    payload: Any
    json: Any
    options: EnqueueOptions
    info: JobInfo


class RecordingQueue:
    """Records enqueues instead of storing them, like the reference's `MockQueue`.

    It refuses what the real queue refuses: payloads that are not JSON or do not match the payload
    type a `registry` (or a `JobType`) declares, unknown queues, unique jobs without a TTL, and a
    reused job id. Defaults of known job types apply as in the real queue. Unique locks hold for
    the life of the recording, so a test can assert that a second unique enqueue raises
    `DuplicateJobError`.
    """

    def __init__(
        self,
        registry: JobRegistry | None = None,
        *,
        queues: tuple[str, ...] = ("critical", "default", "low"),
    ) -> None:
        self.registry = registry
        self.queues = queues
        self.jobs: list[EnqueuedJob] = []
        self.closed = False
        self._unique: dict[str, str] = {}

    async def enqueue(self, job_type: JobRef, payload: Any) -> JobInfo:
        """Record a job."""
        return self._record(job_type, payload, EnqueueOptions())

    async def enqueue_with_delay(
        self, job_type: JobRef, payload: Any, delay: timedelta | float
    ) -> JobInfo:
        """Record a delayed job."""
        return self._record(job_type, payload, EnqueueOptions(delay=delay))

    async def enqueue_at(self, job_type: JobRef, payload: Any, process_at: datetime) -> JobInfo:
        """Record a scheduled job."""
        return self._record(job_type, payload, EnqueueOptions(process_at=process_at))

    async def enqueue_with_options(
        self, job_type: JobRef, payload: Any, opts: EnqueueOptions
    ) -> JobInfo:
        """Record a job with options."""
        return self._record(job_type, payload, opts)

    async def enqueue_many(self, jobs: Iterable[EnqueueItem]) -> list[JobInfo | JobQueueError]:
        """Record a batch; duplicates are reported in place, like the real queue."""
        results: list[JobInfo | JobQueueError] = []
        for job in jobs:
            opts = job[2] if len(job) == 3 else EnqueueOptions()
            try:
                results.append(self._record(job[0], job[1], opts))
            except DuplicateJobError as exc:
                results.append(exc)
        return results

    async def close(self) -> None:
        """Mark the queue closed; later enqueues raise `QueueClosedError`."""
        self.closed = True

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
        name = job.name if isinstance(job, JobType) else job
        spec: JobSpec | JobType[Any] | None = self.registry.get(name) if self.registry else None
        if spec is None and isinstance(job, JobType):
            spec = job
        if spec is not None and spec.adapter is not None:
            payload_json = dump_validated(spec.adapter, validate_payload(spec, name, payload), name)
        else:
            payload_json = to_jsonable(payload, name)
        queue = opts.queue or (spec.queue if spec else None) or "default"
        if queue not in self.queues:
            raise UnknownQueueError(queue, self.queues)
        job_id = opts.job_id or uuid.uuid4().hex
        if any(j.info.id == job_id for j in self.jobs):
            raise DuplicateJobError(name, queue, job_id)
        if opts.unique and opts.unique_ttl is None and (spec is None or spec.unique_ttl is None):
            raise InvalidOptionsError(
                f"unique job {name!r} needs unique_ttl (in the options or on the job type)"
            )
        if opts.unique:
            key = f"{queue}:{canonical_digest(name, payload_json)}"
            if key in self._unique:
                raise DuplicateJobError(name, queue, self._unique[key])
            self._unique[key] = job_id
        default_retry = spec.max_retry if spec is not None else None
        now = datetime.now(UTC)
        due = now
        if opts.process_at is not None:
            due = opts.process_at
        elif opts.delay is not None:
            due = now + timedelta(seconds=as_seconds(opts.delay, "delay") or 0)
        info = JobInfo(
            id=job_id,
            job_type=name,
            queue=queue,
            state=JobState.SCHEDULED if due > now else JobState.PENDING,
            enqueued_at=now,
            process_at=due,
            max_retry=opts.max_retry if opts.max_retry is not None else default_retry,
            timeout=as_seconds(opts.timeout, "timeout") or (spec.timeout if spec else None),
        )
        self.jobs.append(EnqueuedJob(name, payload, payload_json, opts, info))
        return info


def _contains(value: Any, fields: dict[str, Any]) -> bool:
    return isinstance(value, dict) and all(value.get(k) == v for k, v in fields.items())
