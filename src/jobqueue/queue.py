"""The `Queue` that producers use, and its implementation on a jobqueue broker.

Options are resolved by `_resolve.resolve` (shared with `RecordingQueue` and the drivers'
`kick()` path) and written into the stored record by `_wire.encode_tail`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar, overload, runtime_checkable

from pydantic import TypeAdapter
from taskiq import TaskiqMessage, TaskiqMiddleware
from taskiq.utils import maybe_awaitable

from jobqueue._labels import Label
from jobqueue._log import job_logger as logger
from jobqueue._resolve import JobRef, Submission, resolve
from jobqueue._shortcuts import NO_OPTIONS, EnqueueShortcuts
from jobqueue._wire import from_taskiq, taskiq_body
from jobqueue.broker import JobBroker
from jobqueue.errors import JobQueueError, QueueClosedError
from jobqueue.jobs import JobType
from jobqueue.options import CancelResult, EnqueueOptions, JobInfo, Progress

__all__ = ["EnqueueItem", "JobQueue", "JobRef", "Queue"]

P = TypeVar("P")
R = TypeVar("R")

EnqueueItem = tuple[JobRef, Any] | tuple[JobRef, Any, EnqueueOptions]


@runtime_checkable
class Queue(Protocol):
    """What application code depends on to enqueue jobs (swap in `RecordingQueue` in tests).

    Every method takes the job type by name (`"email:send"`) or as a typed `JobType`, which lets
    mypy check the payload's type.
    """

    @overload
    async def enqueue(self, job_type: JobType[P, R], payload: P) -> JobInfo[R]: ...
    @overload
    async def enqueue(self, job_type: str, payload: Any) -> JobInfo: ...
    async def enqueue(self, job_type: JobRef, payload: Any) -> JobInfo:
        """Enqueue a job to run as soon as a worker is free."""
        ...

    @overload
    async def enqueue_with_delay(
        self, job_type: JobType[P, R], payload: P, delay: timedelta | float
    ) -> JobInfo[R]: ...
    @overload
    async def enqueue_with_delay(
        self, job_type: str, payload: Any, delay: timedelta | float
    ) -> JobInfo: ...
    async def enqueue_with_delay(
        self, job_type: JobRef, payload: Any, delay: timedelta | float
    ) -> JobInfo:
        """Enqueue a job to run no earlier than `delay` from now."""
        ...

    @overload
    async def enqueue_at(
        self, job_type: JobType[P, R], payload: P, process_at: datetime
    ) -> JobInfo[R]: ...
    @overload
    async def enqueue_at(self, job_type: str, payload: Any, process_at: datetime) -> JobInfo: ...
    async def enqueue_at(self, job_type: JobRef, payload: Any, process_at: datetime) -> JobInfo:
        """Enqueue a job to run no earlier than `process_at` (timezone-aware)."""
        ...

    @overload
    async def enqueue_with_options(
        self, job_type: JobType[P, R], payload: P, opts: EnqueueOptions
    ) -> JobInfo[R]: ...
    @overload
    async def enqueue_with_options(
        self, job_type: str, payload: Any, opts: EnqueueOptions
    ) -> JobInfo: ...
    async def enqueue_with_options(
        self, job_type: JobRef, payload: Any, opts: EnqueueOptions
    ) -> JobInfo:
        """Enqueue a job with explicit options."""
        ...

    async def enqueue_many(self, jobs: Iterable[EnqueueItem]) -> list[JobInfo | JobQueueError]:
        """Enqueue a batch in one round trip; per job, its info or the error that refused it."""
        ...

    async def close(self) -> None:
        """Release the connection; further enqueues raise `QueueClosedError`."""
        ...

    async def cancel(self, job_id: str) -> CancelResult:
        """Cancel a job: removed if it waits, stopped if it runs (see `CancelResult`)."""
        ...

    @overload
    async def result(self, job_id: str, timeout: float | None = None) -> Any: ...
    @overload
    async def result(
        self, job_id: str, timeout: float | None = None, *, job_type: JobType[Any, R]
    ) -> R: ...
    async def result(
        self,
        job_id: str,
        timeout: float | None = None,
        *,
        job_type: JobType[Any, Any] | None = None,
    ) -> Any:
        """Wait for a job's outcome: its return value (read as `job_type`'s result type).

        Raises:
            JobFailedError: It ended dead or cancelled.
            ResultTimeoutError: `timeout` seconds passed first.
            JobNotFoundError: No such job, or its result's retention ended.
        """
        ...

    async def progress(self, job_id: str) -> Progress | None:
        """The latest progress a running job reported; `None` if it reported none."""
        ...


class JobQueue(EnqueueShortcuts):
    """A `Queue` on a jobqueue broker (`RedisJobBroker` or `MemoryJobBroker`).

    Use it as `async with JobQueue(broker) as queue:`; or call `await queue.start()` and
    `await queue.close()`. A queue built by `connect()` owns its broker and shuts it down on close.
    """

    def __init__(self, broker: JobBroker, *, owns_broker: bool = True) -> None:
        self.broker = broker
        self._owns_broker = owns_broker
        self._started = False
        self._closed = False
        self._result_adapters: dict[str, TypeAdapter[Any]] = {}
        """Result types of the job types this queue enqueued, for `JobInfo.result()`."""

    async def start(self) -> Self:
        """Connect the broker (once)."""
        if self._closed:
            raise QueueClosedError("the queue is closed")
        if not self._started:
            if self._owns_broker:
                await self.broker.startup()
            self._started = True
        return self

    async def close(self) -> None:
        """Disconnect; idempotent."""
        if self._closed:
            return
        try:
            # Jobs run in-process (memory driver) may still enqueue while the broker drains.
            if self._started and self._owns_broker:
                await self.broker.shutdown()
        finally:
            self._closed = True

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @overload
    async def enqueue_with_options(
        self, job_type: JobType[P, R], payload: P, opts: EnqueueOptions
    ) -> JobInfo[R]: ...
    @overload
    async def enqueue_with_options(
        self, job_type: str, payload: Any, opts: EnqueueOptions
    ) -> JobInfo: ...
    async def enqueue_with_options(
        self, job_type: JobRef, payload: Any, opts: EnqueueOptions
    ) -> JobInfo:
        """Enqueue a job with explicit options; raises on a duplicate or invalid input.

        Raises:
            QueueUnavailableError: The store could not be reached; retrying with the same
                `job_id` is safe.
        """
        (result,) = await self._submit([await self._build(job_type, payload, opts)])
        if isinstance(result, JobQueueError):
            raise result
        return result

    async def enqueue_many(self, jobs: Iterable[EnqueueItem]) -> list[JobInfo | JobQueueError]:
        """Enqueue a batch in one round trip.

        Invalid input (a bad payload or options) raises before anything is enqueued; duplicates
        are reported per job in the returned list, in order.
        """
        built = []
        for job in jobs:
            opts = job[2] if len(job) == 3 else NO_OPTIONS
            built.append(await self._build(job[0], job[1], opts))
        return await self._submit(built)

    # -- job control ------------------------------------------------------------------------

    async def cancel(self, job_id: str) -> CancelResult:
        """Cancel a job: removed if it waits, stopped if it runs (see `CancelResult`).

        A running job's handler gets `asyncio.CancelledError` at its current `await`; it ends
        `cancelled` (kept like a dead job, never retried) and its unique lock is released.
        Cancelling a finished job, an unknown one, or one twice changes nothing.
        """
        await self._ready()
        return await self.broker.cancel(job_id)

    @overload
    async def result(self, job_id: str, timeout: float | None = None) -> Any: ...
    @overload
    async def result(
        self, job_id: str, timeout: float | None = None, *, job_type: JobType[Any, R]
    ) -> R: ...
    async def result(
        self,
        job_id: str,
        timeout: float | None = None,
        *,
        job_type: JobType[Any, Any] | None = None,
    ) -> Any:
        """Wait for a job's outcome, without polling: its return value, or why it failed.

        The job must keep its result (`result_ttl` on its job type or in its options). The
        value is read back as the job type's result type when it declares one.

        Raises:
            JobFailedError: It ended dead or cancelled (`.error` says why).
            ResultTimeoutError: `timeout` seconds passed first (the job may still end).
            JobNotFoundError: No such job, or it ended and its result's retention is over.
        """
        await self._ready()
        if job_type is not None and job_type.result_adapter is not None:
            self._result_adapters.setdefault(job_type.name, job_type.result_adapter)
        return await self.broker.result(job_id, timeout, self._result_type)

    async def progress(self, job_id: str) -> Progress | None:
        """The latest progress a running job reported (`current_job().progress(...)`)."""
        await self._ready()
        status = await self.broker.status(job_id)
        return None if status is None else status.progress

    async def _info_result(self, info: JobInfo[Any], timeout: float | None) -> Any:
        await self._ready()
        return await self.broker.result(info.id, timeout, self._result_type)

    def _result_type(self, job_type: str) -> TypeAdapter[Any] | None:
        """A job type's result type: from the `JobType`s this queue saw, or the registry."""
        return self._result_adapters.get(job_type) or self.broker.result_type(job_type)

    async def _ready(self) -> None:
        if self._closed:
            raise QueueClosedError("the queue is closed")
        if not self._started:
            await self.start()

    async def _submit(self, submissions: Sequence[Submission]) -> list[JobInfo | JobQueueError]:
        await self._ready()
        results = await self.broker.submit(submissions)
        if not logger.isEnabledFor(logging.INFO):
            return results
        for result in results:
            if not isinstance(result, JobQueueError):
                logger.info(
                    "Job enqueued successfully %s id=%s queue=%s",
                    result.job_type,
                    result.id,
                    result.queue,
                    extra={"job_type": result.job_type, "job_id": result.id, "queue": result.queue},
                )
        return results

    async def _build(self, job: JobRef, payload: Any, opts: EnqueueOptions) -> Submission:
        broker = self.broker
        settings = broker.settings
        submission = resolve(
            job,
            payload,
            opts,
            specs=broker.job_specs.get,
            queues=settings.queues,
            default_queue=settings.default_queue,
            new_id=broker.id_generator,
        )
        submission.reader = self._info_result
        typed = job if isinstance(job, JobType) else broker.job_specs.get(submission.job_type)
        if typed is not None and typed.result_adapter is not None:
            self._result_adapters.setdefault(submission.job_type, typed.result_adapter)
        custom = _pre_send_middlewares(broker)
        if custom:
            await _through_middlewares(submission, custom)
        else:
            submission.encode(submission.payload)
        return submission


def _pre_send_middlewares(broker: JobBroker) -> list[TaskiqMiddleware]:
    return [m for m in broker.middlewares if type(m).pre_send is not TaskiqMiddleware.pre_send]


async def _through_middlewares(sub: Submission, middlewares: list[TaskiqMiddleware]) -> None:
    """Let custom `pre_send` middlewares see (and change) the job as a Taskiq message.

    What they change in the labels is stored with the job; so are new labels of their own.
    """
    labels: dict[str, Any] = {Label.QUEUE: sub.queue}
    if sub.max_retry is not None:
        labels[Label.MAX_RETRY] = sub.max_retry
    if sub.timeout is not None:
        labels[Label.TIMEOUT] = sub.timeout
    message = TaskiqMessage(
        task_id=sub.id,
        task_name=sub.job_type,
        labels=labels,
        labels_types={},
        args=[sub.payload],
        kwargs={},
    )
    for middleware in middlewares:
        message = await maybe_awaitable(middleware.pre_send(message))
    options = from_taskiq(message)
    sub.max_retry = options.max_retry
    sub.timeout = options.timeout
    body, shaped = taskiq_body(message)
    sub.encode(body, options.labels, shaped)
