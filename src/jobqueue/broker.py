"""`JobBroker`: what every jobqueue driver shares, with the drivers supplying only store operations.

A driver (Redis, memory) is a Taskiq `AsyncBroker`. The base class does the bookkeeping, the way
SAQ's queue base does: `stream()` fetches within the concurrency and prefetch limits, rides out
store outages, turns each stored record into a Taskiq message and buries what cannot run; and
`acknowledge()` asks the pure `decide()` what an attempt did to its job. A driver implements
`submit` (store jobs), `_fetch` (lease jobs), `_apply` (carry out an outcome atomically) and
`_requeue` (put held jobs back on shutdown), and for job control `cancel`, `status` and
`report_progress`; `result()` is written once on top of `status` and the driver's wake-ups.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

from pydantic import TypeAdapter
from taskiq import AckableMessage, AsyncBroker, BrokerMessage
from taskiq.serializers import ORJSONSerializer

from jobqueue._attempt import Delivery, Outcome, OutcomeKind, decide
from jobqueue._ends import Waiters
from jobqueue._held import Attempts
from jobqueue._ids import new_id
from jobqueue._log import driver_logger as logger
from jobqueue._middleware import LifecycleMiddleware, LoggingMiddleware
from jobqueue._outage import Backoff, OutageLog
from jobqueue._resolve import Submission, resolve_taskiq
from jobqueue._result_backend import JobResultBackend
from jobqueue._status import JobStatus, ResultTypes, wait_for_result
from jobqueue._wire import MalformedRecordError, decode, to_taskiq
from jobqueue.errors import JobQueueError
from jobqueue.jobs import JobRegistry, JobSpec
from jobqueue.options import CancelResult, JobInfo
from jobqueue.settings import QueueSettings

__all__ = ["JobBroker"]

_MIN_WAIT = 0.001


class JobBroker(AsyncBroker, ABC):
    """The base of jobqueue's drivers: a Taskiq broker that stores jobs with their life cycle."""

    def __init__(
        self, settings: QueueSettings | None = None, *, registry: JobRegistry | None = None
    ) -> None:
        super().__init__()
        self.settings = settings if settings is not None else QueueSettings.from_env()
        self.serializer = ORJSONSerializer()
        self.id_generator = new_id
        self.job_specs: dict[str, JobSpec] = {}
        self.job_providers: dict[str, Any] = {}
        """Providers of class-based jobs, as mapped onto an attached container."""
        self.attempts = Attempts(report=self.report_progress)
        self.waiters = Waiters()
        """Producers waiting for jobs to end (`result()`); the driver wakes them."""
        self.outage = OutageLog(logger)
        self.outcome_listeners: list[Callable[[Delivery, Outcome], None]] = []
        """Told each attempt's outcome as it is decided (worker metrics); must be quick."""
        self._job_types: dict[str, tuple[bool, float | None]] = {}
        self._wakeup = asyncio.Event()
        self.add_middlewares(LifecycleMiddleware(self.attempts), LoggingMiddleware(self.attempts))
        self.result_backend = JobResultBackend(self.status)
        if registry is not None:
            self.bind(registry)

    def bind(self, registry: JobRegistry) -> None:
        """Register a registry's jobs on this broker."""
        self._job_types.clear()
        registry.bind(self)
        for spec in registry:
            self.job_specs[spec.job_type] = spec

    async def startup(self) -> None:
        """Connect to the store, then run Taskiq's start-up (and its event handlers)."""
        # Fresh events: a broker may be started again on another event loop (tests do).
        self._wakeup = asyncio.Event()
        self.attempts.reset()
        await self._open()
        await super().startup()

    async def _open(self) -> None:
        """Connect to the store; runs before Taskiq's start-up hooks, which may use it."""

    # -- producing ----------------------------------------------------------------------------

    @abstractmethod
    async def submit(self, submissions: Sequence[Submission]) -> list[JobInfo | JobQueueError]:
        """Store jobs in one round trip; per job, its info or the error that refused it."""

    async def kick(self, message: BrokerMessage) -> None:
        """Enqueue a message sent by Taskiq itself (`task.kiq()`, `taskiq scheduler`)."""
        taskiq_message = self.formatter.loads(message.message)
        taskiq_message.parse_labels()
        submission = resolve_taskiq(
            taskiq_message,
            specs=self.job_specs.get,
            queues=self.settings.queues,
            default_queue=self.settings.default_queue,
        )
        result = (await self.submit([submission]))[0]
        if isinstance(result, JobQueueError):
            raise result

    # -- job control ------------------------------------------------------------------------

    @abstractmethod
    async def cancel(self, job_id: str, queue: str | None = None) -> CancelResult:
        """Cancel a job: remove it if it waits, stop it if it runs (see `CancelResult`)."""

    @abstractmethod
    async def status(self, job_id: str, queue: str | None = None) -> JobStatus | None:
        """A job's state and what it left (result, error, progress); `None`: no such job."""

    @abstractmethod
    async def report_progress(self, delivery: Delivery, fraction: float, message: str) -> None:
        """Keep a running job's progress (`current_job().progress()`)."""

    async def result(
        self, job_id: str, timeout: float | None = None, result_types: ResultTypes | None = None
    ) -> Any:
        """Wait for a job's outcome: its result, or `JobFailedError` (see `Queue.result`).

        The result is read as its job type's result type (`result_types`, by default the ones
        registered on this broker).
        """
        await self._watch_ends()
        types = result_types or self.result_type
        return await wait_for_result(job_id, self.status, self.waiters, timeout, types)

    def result_type(self, job_type: str) -> TypeAdapter[Any] | None:
        """How results of a job type registered here are read back."""
        spec = self.job_specs.get(job_type)
        return spec.result_adapter if spec is not None else None

    async def _watch_ends(self) -> None:
        """Make sure the driver wakes `waiters` when jobs end (started on first use)."""

    def cancel_requested(self, job_id: str) -> None:
        """A worker learns that `cancel()` asked for a job to stop."""
        for delivery in self.attempts.cancel(job_id):
            logger.info(
                "Cancelling job %s id=%s",
                delivery.job_type,
                job_id,
                extra={"job_id": job_id, "queue": delivery.queue},
            )

    # -- consuming ----------------------------------------------------------------------------

    @abstractmethod
    async def _fetch(self, count: int) -> list[Delivery]:
        """Lease up to `count` jobs (in this fetch's queue order), as raw deliveries."""

    @abstractmethod
    def _apply(self, delivery: Delivery, outcome: Outcome) -> None:
        """Carry out an outcome in the store; call `attempts.released(delivery)` once it did."""

    @abstractmethod
    async def _requeue(self, deliveries: Sequence[Delivery]) -> int:
        """Put held jobs back to the front of pending (not counted as failures)."""

    def _lookahead(self) -> int:
        """Jobs to lease ahead of the running ones, so that one fetch serves many jobs."""
        return self.settings.prefetch

    async def _wait_for_work(self, seconds: float) -> None:
        """Wait until `wake()` or for `seconds`, whichever comes first."""
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for starts a task for every wait.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wakeup.wait()

    def wake(self) -> None:
        """Make an idle worker fetch now (jobs were stored, forwarded or recovered)."""
        self._wakeup.set()

    async def stream(self) -> AsyncGenerator[Delivery, None]:
        """Yield jobs to run, each leased until `acknowledge()`; closing it starts the drain.

        At most `concurrency` deliveries are running (handed out, not acknowledged) at once, and
        up to `prefetch` more are leased ahead, so one fetch serves many jobs. A store that cannot
        be reached is retried with backoff: the stream never ends because of an outage.
        """
        s = self.settings
        buffer: collections.deque[Delivery] = collections.deque()
        wait = _MIN_WAIT
        backoff = Backoff()
        try:
            while True:
                await self.attempts.wait_for_slot(s.concurrency)
                if buffer and buffer[0].times_lost:
                    # A job that may have killed its last worker runs alone: a crash it causes
                    # again then costs no other job a delivery (the fetch sent it alone too).
                    await self.attempts.wait_for_slot(1)
                    delivery = buffer.popleft()
                    self.attempts.handed_out(delivery)
                    yield delivery
                    await self.attempts.wait_for_slot(1)
                    continue
                if not buffer:
                    # Cleared before the fetch, not after: a job that arrives while the fetch is
                    # in flight (too late for it) then ends the idle wait at once.
                    self._wakeup.clear()
                    room = max(self.attempts.room(s.concurrency + self._lookahead()), 1)
                    try:
                        batch = await self._fetch_held(room)
                    except Exception as exc:
                        self.outage.failed("fetch", exc)
                        await asyncio.sleep(backoff.next())
                        continue
                    self.outage.ok()
                    backoff.reset()
                    if not batch:
                        await self._wait_for_work(wait)
                        wait = min(wait * 2, s.poll_interval)
                        continue
                    wait = _MIN_WAIT
                    buffer.extend(d for d in batch if self._runnable(d))
                    continue
                delivery = buffer.popleft()
                if delivery.cancel_requested:  # cancelled while it waited in the buffer
                    self.acknowledge(delivery)
                    continue
                self.attempts.handed_out(delivery)
                yield delivery
        finally:
            self.attempts.begin_drain(s.shutdown_timeout)

    async def _fetch_held(self, count: int) -> list[Delivery]:
        async def fetch_and_hold() -> list[Delivery]:
            batch = await self._fetch(count)
            self.attempts.hold(batch)  # in the same step: nobody sees the jobs in neither place
            return batch

        # Shielded: a shutdown that cancels us while the fetch is in flight must not lose the
        # jobs it leased; they are held all the same, and shutdown puts them back at once.
        return await asyncio.shield(asyncio.ensure_future(fetch_and_hold()))

    async def fetch(self, count: int) -> list[Delivery]:
        """Lease up to `count` jobs now, outside `stream()` (for tools and tests).

        Each delivery is held and read (its `message` set, or its `problem`); acknowledge each.
        """
        batch = await self._fetch_held(count)
        for delivery in batch:
            self._read(delivery)
        return batch

    def _runnable(self, delivery: Delivery) -> bool:
        """Read a delivery; bury it at once if it cannot run."""
        if self._read(delivery):
            return True
        self.acknowledge(delivery)  # straight to dead: no receiver ever sees its content
        return False

    def _read(self, delivery: Delivery) -> bool:
        """Turn a delivery's record into its Taskiq message, or say why it cannot run."""
        try:
            job = delivery.job = decode(delivery.raw, delivery.id)
        except MalformedRecordError as exc:
            delivery.problem = str(exc)
            return False
        known, default_timeout = self._job_type(job.job_type)
        if not known:
            delivery.problem = f"unknown job type {job.job_type!r}: no worker handler is registered"
            return False
        timeout = job.timeout if job.timeout is not None else default_timeout
        if job.deadline is not None:
            left = job.deadline - time.time()
            if left <= 0:
                when = datetime.fromtimestamp(job.deadline, UTC).isoformat(timespec="seconds")
                delivery.problem = f"deadline passed: not started by {when}"
                return False
            timeout = min(left, timeout or left)  # it may run until the deadline at most
        delivery.message = to_taskiq(delivery.id, delivery.queue, job, delivery.token, timeout)
        return True

    def _job_type(self, name: str) -> tuple[bool, float | None]:
        """Whether this worker runs a job type, and its default timeout (cached when known)."""
        cached = self._job_types.get(name)
        if cached is None:
            spec = self.job_specs.get(name)
            known = self.find_task(name) is not None
            cached = known, spec.timeout if spec is not None else None
            if known:  # a task registered later must still be found
                self._job_types[name] = cached
        return cached

    def acknowledge(self, delivery: Delivery) -> None:
        """Apply the outcome of a finished (or never started) attempt; never raises.

        The delivery stays held, its lease renewed, until the store confirmed the outcome, so a
        crash before that means the job runs again, never that it is lost.
        """
        self.attempts.finished(delivery)
        try:
            spec = self.job_specs.get(delivery.job_type)
            outcome = decide(delivery, spec, self.settings)
            if self.outcome_listeners:
                self._tell(delivery, outcome)
            if outcome.kind is OutcomeKind.LOST:
                logger.warning(
                    "Job %s id=%s finished after its lease was lost; its outcome is dropped "
                    "(another delivery owns the job)",
                    delivery.job_type,
                    delivery.id,
                    extra={"job_id": delivery.id, "queue": delivery.queue},
                )
                self.attempts.released(delivery)
                return
            if outcome.kind is OutcomeKind.DEAD:
                logger.warning(
                    "Job moved to dead id=%s queue=%s: %s",
                    delivery.id,
                    delivery.queue,
                    outcome.error,
                    extra={"job_id": delivery.id, "queue": delivery.queue, "error": outcome.error},
                )
            self._apply(delivery, outcome)
        except Exception:  # never raise from an ack: log, and let the lease expire
            logger.exception("could not acknowledge job %s", delivery.id)

    def _tell(self, delivery: Delivery, outcome: Outcome) -> None:
        for listener in self.outcome_listeners:
            try:
                listener(delivery, outcome)
            except Exception:  # a listener must never stop an acknowledgement
                logger.exception("outcome listener %r failed", listener)

    def stale(self, deliveries: Sequence[Delivery], action: str) -> None:
        """The store refused acknowledgements: their deliveries no longer own their jobs."""
        for delivery in deliveries:
            logger.warning(
                "Stale %s of job %s ignored: its lease expired and the job was recovered",
                action,
                delivery.id,
                extra={"job_id": delivery.id, "queue": delivery.queue, "action": action},
            )

    async def listen(self) -> AsyncGenerator[bytes | AckableMessage, None]:
        """`stream()` as Taskiq's receiver reads it: each delivery acknowledges itself."""
        async with contextlib.aclosing(self.stream()) as deliveries:
            async for delivery in deliveries:
                yield self.ackable(delivery)

    def ackable(self, delivery: Delivery) -> AckableMessage:
        """A delivery as the Taskiq message that acknowledges it."""
        assert delivery.message is not None  # set for every delivery that is handed out
        data = self.formatter.dumps(delivery.message).message
        return AckableMessage(data=data, ack=partial(_ack, self, delivery))

    async def put_back_held(self) -> int:
        """Shutdown: put the held jobs without an acknowledgement back to pending."""
        held = self.attempts.unacknowledged()
        if not held:
            return 0
        try:
            moved = await self._requeue(held)
        finally:
            self.attempts.drop(held)
        if moved:
            logger.info("Returned %d unfinished jobs to pending", moved)
        return moved


async def _ack(broker: JobBroker, delivery: Delivery) -> None:
    broker.acknowledge(delivery)
