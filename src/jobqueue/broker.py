"""What every jobqueue driver shares: submissions in, deliveries out, and one decision per attempt.

A driver (Redis, memory) is a Taskiq `AsyncBroker`. Producers hand it `Submission`s; workers get
`Delivery`s through `listen()`. When Taskiq acknowledges a delivery, the driver asks `decide()`
what happened (complete, retry after a delay, dead, or back to pending on shutdown) and applies
that in one step, so a job leaves the store only after it finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
import traceback
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import partial
from typing import Any

from taskiq import AckableMessage, AsyncBroker, BrokerMessage, TaskiqMessage
from taskiq.serializers import ORJSONSerializer

from jobqueue.codec import canonical_digest
from jobqueue.errors import DuplicateJobError, JobQueueError, PayloadError, PermanentError
from jobqueue.jobs import JobRegistry, JobSpec
from jobqueue.labels import Label
from jobqueue.options import JobContext, JobInfo, JobState
from jobqueue.retry import RetryDelay, exponential_backoff
from jobqueue.settings import QueueSettings

__all__ = ["Delivery", "JobBroker", "Outcome", "OutcomeKind", "Submission"]

DEFAULT_RETRY_DELAY: RetryDelay = exponential_backoff()
_TRACEBACK_LIMIT = 8000


@dataclass(slots=True, kw_only=True)
class Submission:
    """One job on its way into the store (not frozen: building it is on the enqueue path)."""

    id: str
    job_type: str
    queue: str
    message: bytes
    process_at: float | None = None
    """Epoch seconds; `None` runs it now (or after `delay`)."""
    delay: float | None = None
    """Seconds from when the store accepts the job, on the store's clock (not the producer's)."""
    unique_ttl: float | None = None
    unique_digest: str | None = None
    max_retry: int | None = None
    timeout: float | None = None

    def info(self, state: JobState, enqueued_at: float) -> JobInfo:
        """The `JobInfo` producers get back once the store accepted this job."""
        enqueued = datetime.fromtimestamp(enqueued_at, UTC)
        if self.delay:
            due = datetime.fromtimestamp(enqueued_at + self.delay, UTC)
        elif self.process_at and self.process_at > enqueued_at:
            due = datetime.fromtimestamp(self.process_at, UTC)
        else:
            due = enqueued
        return JobInfo(
            id=self.id,
            job_type=self.job_type,
            queue=self.queue,
            state=state,
            enqueued_at=enqueued,
            process_at=due,
            max_retry=self.max_retry,
            timeout=self.timeout,
        )


class OutcomeKind(StrEnum):
    """What the ack of a delivery does to the job."""

    COMPLETE = "complete"
    RETRY = "retry"
    DEAD = "dead"
    REQUEUE = "requeue"


@dataclass(frozen=True, slots=True)
class Outcome:
    """The decision for one finished (or abandoned) attempt."""

    kind: OutcomeKind
    delay: float = 0.0
    error: str = ""
    traceback: str = ""
    counts_as_failure: bool = True


@dataclass(slots=True, eq=False)
class Delivery:
    """A job fetched by this worker and not yet acknowledged."""

    id: str
    queue: str
    message: bytes
    retried: int
    token: str = ""
    """Which delivery of the job this is; acks of an older delivery change nothing."""
    task_message: TaskiqMessage | None = None
    """Set when the job starts, by the lifecycle middleware."""
    task: asyncio.Task[Any] | None = None
    started_at: float | None = None
    error: BaseException | None = None
    stopped_for_shutdown: bool = False

    @property
    def job_type(self) -> str:
        """The job type, once known."""
        return self.task_message.task_name if self.task_message else "?"


COMPLETED = Outcome(OutcomeKind.COMPLETE)


class JobBroker(AsyncBroker, ABC):
    """The base of jobqueue's drivers: a Taskiq broker that stores jobs with their life cycle."""

    def __init__(
        self, settings: QueueSettings | None = None, *, registry: JobRegistry | None = None
    ) -> None:
        super().__init__()
        self.settings = settings if settings is not None else QueueSettings.from_env()
        self.serializer = ORJSONSerializer()
        self.id_generator = _new_id
        self.job_specs: dict[str, JobSpec] = {}
        self.job_providers: dict[str, Any] = {}
        """Providers of class-based jobs, as mapped onto an attached container."""
        self.deliveries: dict[str, Delivery] = {}
        self.drain_expired = False
        self._drain_timer: asyncio.Handle | None = None
        from jobqueue.middleware import LifecycleMiddleware, LoggingMiddleware

        self.add_middlewares(LifecycleMiddleware(), LoggingMiddleware())
        if registry is not None:
            self.bind(registry)

    def bind(self, registry: JobRegistry) -> None:
        """Register a registry's jobs on this broker."""
        registry.bind(self)
        for spec in registry:
            self.job_specs[spec.job_type] = spec

    # -- producing ----------------------------------------------------------------------------

    @abstractmethod
    async def submit(self, submissions: Sequence[Submission]) -> list[JobInfo | JobQueueError]:
        """Store jobs in one round trip; per job, its info or the error that refused it."""

    async def kick(self, message: BrokerMessage) -> None:
        """Enqueue a message sent by Taskiq itself (`task.kiq()`, `taskiq scheduler`)."""
        result = (await self.submit([self.submission_from_message(message)]))[0]
        if isinstance(result, JobQueueError):
            raise result

    def submission_from_message(self, message: BrokerMessage) -> Submission:
        """Read a Taskiq message's labels as enqueue options (the `delay` label counts too)."""
        labels = message.labels
        spec = self.job_specs.get(message.task_name)
        queue = str(labels.get(Label.QUEUE) or (spec and spec.queue) or self.settings.default_queue)
        process_at = _float(labels.get(Label.PROCESS_AT))
        delay = _float(labels.get("delay")) if process_at is None else None
        unique_ttl = _float(labels.get(Label.UNIQUE_TTL))
        digest = None
        if unique_ttl:
            body = self.serializer.loadb(message.message)
            digest = canonical_digest(message.task_name, [body["args"], body["kwargs"]])
        max_retry = labels.get(Label.MAX_RETRY)
        return Submission(
            id=message.task_id,
            job_type=message.task_name,
            queue=queue,
            message=message.message,
            process_at=process_at,
            delay=delay or None,
            unique_ttl=unique_ttl,
            unique_digest=digest,
            max_retry=int(max_retry) if max_retry is not None else None,
            timeout=_float(labels.get(Label.TIMEOUT)),
        )

    # -- consuming ----------------------------------------------------------------------------

    @abstractmethod
    def stream(self) -> AsyncGenerator[Delivery, None]:
        """Yield jobs to run, each held (leased) until `acknowledge()`; closing it starts a drain.

        At most `concurrency` deliveries are handed out and not yet acknowledged at a time.
        """

    @abstractmethod
    def acknowledge(self, delivery: Delivery) -> None:
        """Apply the outcome of a finished (or never started) attempt; never raises."""

    async def listen(self) -> AsyncGenerator[bytes | AckableMessage, None]:
        """`stream()` as Taskiq's receiver reads it: each delivery acknowledges itself."""
        async with contextlib.aclosing(self.stream()) as deliveries:
            async for delivery in deliveries:
                yield self.ackable(delivery)

    def ackable(self, delivery: Delivery) -> AckableMessage:
        """A delivery as the Taskiq message that acknowledges it."""
        return AckableMessage(data=delivery.message, ack=partial(_ack, self, delivery))

    def attempt_started(self, message: TaskiqMessage) -> TaskiqMessage:
        """Tie a starting attempt to its delivery, and apply job-type defaults to its labels.

        After shutdown's grace period the attempt is stopped at once and goes back to pending.
        """
        delivery = self.deliveries.get(message.task_id)
        if delivery is not None:
            delivery.task_message = message
            delivery.started_at = time.monotonic()
            delivery.task = asyncio.current_task()
            if self.drain_expired and delivery.task is not None:
                delivery.stopped_for_shutdown = True
                delivery.task.cancel()
        if Label.TIMEOUT not in message.labels:
            # A producer without the job's code could not know the job type's timeout.
            spec = self.job_specs.get(message.task_name)
            if spec is not None and spec.timeout is not None:
                message.labels[Label.TIMEOUT] = spec.timeout
        return message

    def attempt_failed(self, message: TaskiqMessage, exception: BaseException) -> None:
        """Keep an attempt's error; its acknowledgement decides between retry and dead."""
        delivery = self.deliveries.get(message.task_id)
        if delivery is not None:
            delivery.error = exception

    def queue_order(self) -> tuple[str, ...]:
        """The order to try queues in for one fetch: by weight at random, or strictly.

        asynq's semantics: the chance that a queue comes first is its share of the total weight,
        so while every queue has work, fetches split by weight and no queue starves.
        """
        names = list(self.settings.queue_names)
        if self.settings.strict_priority or len(names) == 1:
            return tuple(names)
        weights = [self.settings.queues[n] for n in names]
        order = []
        while names:
            (pick,) = random.choices(range(len(names)), weights)
            order.append(names.pop(pick))
            weights.pop(pick)
        return tuple(order)

    def job_context(self, delivery: Delivery) -> JobContext:
        """The job as retry-delay functions and logs see it."""
        return JobContext(
            id=delivery.id,
            job_type=delivery.job_type,
            queue=delivery.queue,
            attempt=delivery.retried + 1,
            max_retry=self.max_retry_of(delivery),
        )

    def max_retry_of(self, delivery: Delivery) -> int:
        """Retries allowed: the enqueue option, else the job type's default, else the setting."""
        if delivery.task_message is not None:
            value = delivery.task_message.labels.get(Label.MAX_RETRY)
            if value is not None:
                return int(value)
        spec = self.job_specs.get(delivery.job_type)
        if spec is not None and spec.max_retry is not None:
            return spec.max_retry
        return self.settings.default_max_retry

    def decide(self, delivery: Delivery) -> Outcome:
        """What the acknowledgement of a delivery does to its job."""
        if delivery.task_message is None:
            return Outcome(OutcomeKind.DEAD, error=self._why_not_run(delivery))
        exc = delivery.error
        if exc is None:
            return COMPLETED
        if delivery.stopped_for_shutdown:
            return Outcome(OutcomeKind.REQUEUE, counts_as_failure=False)
        error, trace = describe_error(exc, delivery)
        if isinstance(exc, PermanentError):
            return Outcome(OutcomeKind.DEAD, error=f"permanent: {error}", traceback=trace)
        if isinstance(exc, PayloadError):  # retrying cannot make a payload valid
            return Outcome(OutcomeKind.DEAD, error=str(exc), traceback=trace)
        context = self.job_context(delivery)
        if delivery.retried >= context.max_retry:
            return Outcome(
                OutcomeKind.DEAD,
                error=f"retries exhausted after {_attempts(context.attempt)}: {error}",
                traceback=trace,
            )
        spec = self.job_specs.get(delivery.job_type)
        retry_delay = spec.retry_delay if spec and spec.retry_delay else DEFAULT_RETRY_DELAY
        try:
            delay = max(0.0, float(retry_delay(context.attempt, exc, context)))
        except Exception:  # a broken delay function must not lose the job
            delay = DEFAULT_RETRY_DELAY(context.attempt, exc, context)
        return Outcome(OutcomeKind.RETRY, delay=delay, error=error, traceback=trace)

    # -- graceful shutdown --------------------------------------------------------------------

    def begin_drain(self) -> None:
        """Fetching stopped: give running jobs `shutdown_timeout`, then stop them.

        Stopped jobs go back to pending without counting a failure; so does a job that would
        start after the timeout (the lifecycle middleware stops it at once).
        """
        self.drain_expired = False
        loop = asyncio.get_running_loop()
        self._drain_timer = loop.call_later(self.settings.shutdown_timeout, self._stop_running)

    def end_drain(self) -> None:
        """Cancel the drain timer (shutdown is complete)."""
        if self._drain_timer is not None:
            self._drain_timer.cancel()
            self._drain_timer = None

    def _stop_running(self, tries: int = 0) -> None:
        self.drain_expired = True
        running = False
        for delivery in list(self.deliveries.values()):
            task = delivery.task
            if task is not None and not task.done() and delivery.error is None:
                delivery.stopped_for_shutdown = True
                task.cancel()
                running = True
        if running:
            # A cancellation can be lost: Python 3.11's asyncio.wait_for, which redis-py uses for
            # every command, drops one that arrives while the command is being sent, and the job
            # runs on. Cancel again until each attempt has ended (its error is recorded): on the
            # next loop iteration, which gets past that race, then every 0.1 s for a job that
            # ignores cancellation.
            loop = asyncio.get_running_loop()
            if tries < 10:
                self._drain_timer = loop.call_soon(self._stop_running, tries + 1)
            else:
                self._drain_timer = loop.call_later(0.1, self._stop_running, tries + 1)

    def _why_not_run(self, delivery: Delivery) -> str:
        """Explain a delivery that Taskiq acknowledged without running it."""
        try:
            message = self.formatter.loads(delivery.message)
        except Exception as exc:
            return f"malformed message: {type(exc).__name__}: {exc}"[:2000]
        if self.find_task(message.task_name) is None:
            return f"unknown job type {message.task_name!r}: no worker handler is registered"
        return "not run: the worker acknowledged the job before executing it"


async def _ack(broker: JobBroker, delivery: Delivery) -> None:
    broker.acknowledge(delivery)


def describe_error(exc: BaseException, delivery: Delivery) -> tuple[str, str]:
    """A one-line error and its traceback, both bounded in size."""
    if isinstance(exc, TimeoutError):
        timeout = delivery.task_message.labels.get(Label.TIMEOUT) if delivery.task_message else None
        line = f"TimeoutError: the attempt ran longer than its timeout of {timeout} s"
    else:
        line = f"{type(exc).__name__}: {exc}"
    trace = "".join(traceback.format_exception(exc))
    return line[:2000], trace[-_TRACEBACK_LIMIT:]


def duplicate_error(kind: str, sub: Submission, other: str) -> DuplicateJobError:
    """The error for a refused unique job or a reused job id."""
    return DuplicateJobError(sub.job_type, sub.queue, other if kind == "duplicate" else sub.id)


_random_pool = bytearray()


def _new_id() -> str:
    """A random job id: 128 bits from the OS's CSPRNG in hex, like `uuid4().hex`.

    The bytes are read 4 KiB at a time: one `os.urandom` call per job is a system call per job.
    """
    global _random_pool
    if not _random_pool:
        _random_pool = bytearray(os.urandom(4096))
    chunk = _random_pool[-16:]
    del _random_pool[-16:]
    return chunk.hex()


def _forget_random_pool() -> None:
    _random_pool.clear()  # a forked child must not hand out its parent's next ids


os.register_at_fork(after_in_child=_forget_random_pool)


def _attempts(count: int) -> str:
    return f"{count} attempt" if count == 1 else f"{count} attempts"


def _float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    return float(value)
