"""The `Queue` that producers use, and its implementation on a jobqueue broker.

Enqueue options become Taskiq labels in exactly one place, `JobQueue._build`; the drivers read them
back with `JobBroker.submission_from_message`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar, overload, runtime_checkable

import orjson
from taskiq import TaskiqMessage, TaskiqMiddleware
from taskiq.formatters.proxy_formatter import ProxyFormatter
from taskiq.labels import LabelType, prepare_label
from taskiq.serializers import ORJSONSerializer

from jobqueue.broker import JobBroker, Submission
from jobqueue.codec import canonical_digest, to_jsonable
from jobqueue.errors import InvalidOptionsError, JobQueueError, QueueClosedError, UnknownQueueError
from jobqueue.jobs import JobSpec, JobType, validate_payload
from jobqueue.labels import Label
from jobqueue.middleware.logging import logger
from jobqueue.options import EnqueueOptions, JobInfo, as_seconds

__all__ = ["JobQueue", "Queue"]

_NO_OPTIONS = EnqueueOptions()
P = TypeVar("P")

JobRef = str | JobType[Any]
"""A job type by name, or a typed `JobType`."""
EnqueueItem = tuple[JobRef, Any] | tuple[JobRef, Any, EnqueueOptions]


@runtime_checkable
class Queue(Protocol):
    """What application code depends on to enqueue jobs (swap in `RecordingQueue` in tests).

    Every method takes the job type by name (`"email:send"`) or as a typed `JobType`, which lets
    mypy check the payload's type.
    """

    @overload
    async def enqueue(self, job_type: JobType[P], payload: P) -> JobInfo: ...
    @overload
    async def enqueue(self, job_type: str, payload: Any) -> JobInfo: ...
    async def enqueue(self, job_type: JobRef, payload: Any) -> JobInfo:
        """Enqueue a job to run as soon as a worker is free."""
        ...

    @overload
    async def enqueue_with_delay(
        self, job_type: JobType[P], payload: P, delay: timedelta | float
    ) -> JobInfo: ...
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
        self, job_type: JobType[P], payload: P, process_at: datetime
    ) -> JobInfo: ...
    @overload
    async def enqueue_at(self, job_type: str, payload: Any, process_at: datetime) -> JobInfo: ...
    async def enqueue_at(self, job_type: JobRef, payload: Any, process_at: datetime) -> JobInfo:
        """Enqueue a job to run no earlier than `process_at` (timezone-aware)."""
        ...

    @overload
    async def enqueue_with_options(
        self, job_type: JobType[P], payload: P, opts: EnqueueOptions
    ) -> JobInfo: ...
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


class JobQueue:
    """A `Queue` on a jobqueue broker (`RedisJobBroker` or `MemoryJobBroker`).

    Use it as `async with JobQueue(broker) as queue:`; or call `await queue.start()` and
    `await queue.close()`. A queue built by `connect()` owns its broker and shuts it down on close.
    """

    def __init__(self, broker: JobBroker, *, owns_broker: bool = True) -> None:
        self.broker = broker
        self._owns_broker = owns_broker
        self._started = False
        self._closed = False

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
    async def enqueue(self, job_type: JobType[P], payload: P) -> JobInfo: ...
    @overload
    async def enqueue(self, job_type: str, payload: Any) -> JobInfo: ...
    async def enqueue(self, job_type: JobRef, payload: Any) -> JobInfo:
        """Enqueue a job to run as soon as a worker is free."""
        return await self.enqueue_with_options(job_type, payload, _NO_OPTIONS)

    @overload
    async def enqueue_with_delay(
        self, job_type: JobType[P], payload: P, delay: timedelta | float
    ) -> JobInfo: ...
    @overload
    async def enqueue_with_delay(
        self, job_type: str, payload: Any, delay: timedelta | float
    ) -> JobInfo: ...
    async def enqueue_with_delay(
        self, job_type: JobRef, payload: Any, delay: timedelta | float
    ) -> JobInfo:
        """Enqueue a job to run no earlier than `delay` from now."""
        return await self.enqueue_with_options(job_type, payload, EnqueueOptions(delay=delay))

    @overload
    async def enqueue_at(
        self, job_type: JobType[P], payload: P, process_at: datetime
    ) -> JobInfo: ...
    @overload
    async def enqueue_at(self, job_type: str, payload: Any, process_at: datetime) -> JobInfo: ...
    async def enqueue_at(self, job_type: JobRef, payload: Any, process_at: datetime) -> JobInfo:
        """Enqueue a job to run no earlier than `process_at`; a naive datetime is refused."""
        return await self.enqueue_with_options(
            job_type, payload, EnqueueOptions(process_at=process_at)
        )

    @overload
    async def enqueue_with_options(
        self, job_type: JobType[P], payload: P, opts: EnqueueOptions
    ) -> JobInfo: ...
    @overload
    async def enqueue_with_options(
        self, job_type: str, payload: Any, opts: EnqueueOptions
    ) -> JobInfo: ...
    async def enqueue_with_options(
        self, job_type: JobRef, payload: Any, opts: EnqueueOptions
    ) -> JobInfo:
        """Enqueue a job with explicit options; raises on a duplicate or invalid input."""
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
            opts = job[2] if len(job) == 3 else _NO_OPTIONS
            built.append(await self._build(job[0], job[1], opts))
        return await self._submit(built)

    async def _submit(self, submissions: Sequence[Submission]) -> list[JobInfo | JobQueueError]:
        if self._closed:
            raise QueueClosedError("the queue is closed")
        if not self._started:
            await self.start()
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
        """Validate one job and turn its options into labels (the only place that does)."""
        broker = self.broker
        settings = broker.settings
        job_type = job.name if isinstance(job, JobType) else job
        spec: JobSpec | JobType[Any] | None = broker.job_specs.get(job_type)
        if spec is None and isinstance(job, JobType):
            spec = job  # a producer without the job's code still knows its declared defaults
        queue = opts.queue or (spec.queue if spec else None) or settings.default_queue
        if queue not in settings.queues:
            raise UnknownQueueError(queue, tuple(settings.queues))
        if spec is not None and spec.adapter is not None:  # the registry's view wins, as in workers
            payload = spec.adapter.dump_python(
                validate_payload(spec, job_type, payload), mode="json"
            )
        body = to_jsonable(payload, job_type)
        max_retry = opts.max_retry
        if max_retry is None and spec is not None:
            max_retry = spec.max_retry
        timeout = as_seconds(opts.timeout, "timeout")
        if timeout is None and spec is not None:
            timeout = spec.timeout
        unique_ttl = None
        if opts.unique:
            unique_ttl = as_seconds(opts.unique_ttl, "unique_ttl")
            if unique_ttl is None and spec is not None:
                unique_ttl = spec.unique_ttl
            if not unique_ttl:
                raise InvalidOptionsError(
                    f"unique job {job_type!r} needs unique_ttl (in the options or on the job type)"
                )
        process_at = opts.process_at.timestamp() if opts.process_at is not None else None
        delay = as_seconds(opts.delay, "delay")

        labels: dict[str, Any] = {Label.QUEUE: queue, Label.ACK_TYPE: "when_saved"}
        if max_retry is not None:
            labels[Label.MAX_RETRY] = int(max_retry)
        if timeout is not None:
            labels[Label.TIMEOUT] = float(timeout)
        task_id = opts.job_id or broker.id_generator()
        data = await _encode(broker, task_id, job_type, labels, body)
        return Submission(
            id=task_id,
            job_type=job_type,
            queue=queue,
            message=data,
            process_at=process_at,
            delay=delay or None,
            unique_ttl=unique_ttl or None,
            unique_digest=canonical_digest(job_type, [[body], {}]) if unique_ttl else None,
            max_retry=None if max_retry is None else int(max_retry),
            timeout=timeout,
        )


async def _encode(
    broker: JobBroker, task_id: str, job_type: str, labels: dict[str, Any], body: Any
) -> bytes:
    """The Taskiq message of a job, as the worker's formatter reads it.

    Without custom `pre_send` middlewares, formatter or serializer, the JSON is written directly
    (what Taskiq's formatter would write, at a fraction of the cost of building its model).
    """
    custom = [m for m in broker.middlewares if type(m).pre_send is not TaskiqMiddleware.pre_send]
    if (
        not custom
        and type(broker.formatter) is ProxyFormatter
        and type(broker.serializer) is ORJSONSerializer
    ):
        return b'{"task_id":%b,"task_name":%b,%b,"args":[%b],"kwargs":{}}' % (
            orjson.dumps(task_id),
            orjson.dumps(job_type),
            _labels_json(tuple(labels.items())),
            orjson.dumps(body),
        )
    message = TaskiqMessage(
        task_id=task_id, task_name=job_type, labels={}, labels_types={}, args=[body], kwargs={}
    )
    for name, value in labels.items():
        message.labels[name], message.labels_types[name] = prepare_label(value)  # type: ignore[index]
    for middleware in custom:
        message = await _maybe_await(middleware.pre_send(message))
    return broker.formatter.dumps(message).message


_LABEL_TYPES = {str: LabelType.STR.value, int: LabelType.INT.value, float: LabelType.FLOAT.value}


@functools.lru_cache(maxsize=256)
def _labels_json(labels: tuple[tuple[str, Any], ...]) -> bytes:
    """The `labels` and `labels_types` members of a message (few distinct sets recur)."""
    return orjson.dumps(
        {
            "labels": {name: str(value) for name, value in labels},
            "labels_types": {name: _LABEL_TYPES[type(value)] for name, value in labels},
        }
    )[1:-1]


async def _maybe_await(value: Any) -> Any:
    if hasattr(value, "__await__"):
        return await value
    return value
