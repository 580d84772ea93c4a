"""One delivery of a job to a worker, and the pure decision of what its attempt did to the job.

`Delivery` is created by a driver's fetch and changed only by `Attempts` (its one owner, in
`_held.py`); `decide` reads it and returns an `Outcome`, which the driver applies in one atomic
step. Every row of the decision table is a test in `tests/test_decide.py`:

| the attempt | outcome |
| --- | --- |
| could not be read (malformed record) | dead, "malformed ..." |
| names a job type this worker has no handler for | dead, "unknown job type ..." |
| its job's deadline passed before it started | dead, "deadline passed ..." |
| its lease was lost (another delivery owns the job now) | lost: change nothing |
| was cancelled (`cancel()`) before it ended, or before it started | cancelled |
| was acknowledged without having started | dead, "not run: ..." |
| succeeded | complete (with its result, when the job keeps one) |
| succeeded, but its result does not fit its result type | dead, "invalid result: ..." |
| was stopped by a graceful shutdown | requeue, not counted as a failure |
| ran past its job's deadline | dead, "deadline passed while it ran" |
| raised `PermanentError` | dead, "permanent: ..." |
| raised `PayloadError` (the payload fails its type) | dead |
| failed, or timed out, with retries left | retry after the job type's delay |
| ... but the retry would come after the job's deadline | dead, "deadline passed: ..." |
| failed, or timed out, with no retries left | dead, "retries exhausted after N attempts: ..." |
"""

from __future__ import annotations

import asyncio
import time
import traceback
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson
from pydantic import ValidationError
from taskiq import TaskiqMessage

from jobqueue._wire import WireJob
from jobqueue.codec import to_jsonable
from jobqueue.errors import PayloadError, PermanentError
from jobqueue.jobs import JobSpec
from jobqueue.options import JobContext
from jobqueue.retry import RetryDelay, exponential_backoff
from jobqueue.settings import QueueSettings

__all__ = ["Delivery", "Outcome", "OutcomeKind", "decide", "describe_error", "encode_result"]

DEFAULT_RETRY_DELAY: RetryDelay = exponential_backoff()
_TRACEBACK_LIMIT = 8000
_ERROR_LIMIT = 2000


class OutcomeKind(StrEnum):
    """What the acknowledgement of a delivery does to the job."""

    COMPLETE = "complete"
    RETRY = "retry"
    DEAD = "dead"
    REQUEUE = "requeue"
    CANCELLED = "cancelled"
    """Stopped by `cancel()`: kept like a dead job, never retried, its unique lock released."""
    LOST = "lost"
    """The delivery no longer owns the job: nothing is changed."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """The decision for one finished (or abandoned) attempt."""

    kind: OutcomeKind
    delay: float = 0.0
    error: str = ""
    traceback: str = ""
    counts_as_failure: bool = True
    result: bytes | None = None
    """The return value as JSON, when the job keeps its result."""


COMPLETED = Outcome(OutcomeKind.COMPLETE)
LOST = Outcome(OutcomeKind.LOST, counts_as_failure=False)
CANCELLED = Outcome(OutcomeKind.CANCELLED, error="cancelled", counts_as_failure=False)


@dataclass(slots=True, eq=False)
class Delivery:
    """One delivery of a job to this worker, and its attempt so far.

    A driver fills the first block at fetch; `Attempts` writes the rest. A worker may hold two
    deliveries of one job (its lease expired during a stall and it fetched the job again), so a
    delivery is known by `(id, token)`, never by the id alone.
    """

    id: str
    queue: str
    token: str
    """Which delivery of the job this is: the fence that every change in the store must pass."""
    raw: bytes
    retried: int = 0
    times_lost: int = 0
    """How many earlier deliveries lost their lease (a suspect of killing its worker: run alone)."""
    job: WireJob | None = None
    problem: str = ""
    """Why it cannot run (malformed, unknown job type); set before it is handed out."""
    message: TaskiqMessage | None = None
    """The Taskiq message that runs it, built from `job`."""

    started_at: float | None = None
    task: asyncio.Task[Any] | None = None
    error: BaseException | None = None
    returned: Any = None
    """What the handler returned (its result)."""
    stopped_for_shutdown: bool = False
    cancel_requested: bool = False
    """`cancel()` asked for it to stop."""
    lost: bool = False
    """Its lease was found gone (a heartbeat was refused): another delivery owns the job."""
    key: tuple[str, str] = field(init=False)
    """What identifies this delivery among those a worker holds: (job id, token)."""

    def __post_init__(self) -> None:
        self.key = (self.id, self.token)

    @property
    def job_type(self) -> str:
        """The job type, once known."""
        return self.job.job_type if self.job is not None else "?"

    @property
    def started(self) -> bool:
        """Whether its attempt began."""
        return self.started_at is not None


def max_retry_of(delivery: Delivery, spec: JobSpec | None, settings: QueueSettings) -> int:
    """Retries allowed: the enqueue option, else the job type's default, else the setting."""
    if delivery.job is not None and delivery.job.max_retry is not None:
        return delivery.job.max_retry
    if spec is not None and spec.max_retry is not None:
        return spec.max_retry
    return settings.default_max_retry


def job_context(delivery: Delivery, spec: JobSpec | None, settings: QueueSettings) -> JobContext:
    """The job as retry-delay functions and logs see it."""
    return JobContext(
        id=delivery.id,
        job_type=delivery.job_type,
        queue=delivery.queue,
        attempt=delivery.retried + 1,
        max_retry=max_retry_of(delivery, spec, settings),
    )


def decide(
    delivery: Delivery, spec: JobSpec | None, settings: QueueSettings, now: float | None = None
) -> Outcome:
    """What the acknowledgement of a delivery does to its job (see the table above).

    `now` (epoch seconds, default the current time) is what deadlines are compared with.
    """
    if delivery.problem:
        return Outcome(OutcomeKind.DEAD, error=delivery.problem)
    if delivery.lost:
        return LOST
    exc = delivery.error
    if delivery.cancel_requested and (exc is not None or not delivery.started):
        return CANCELLED
    if not delivery.started:
        return Outcome(
            OutcomeKind.DEAD, error="not run: the worker acknowledged the job before running it"
        )
    if exc is None:
        return _completed(delivery, spec)
    if delivery.stopped_for_shutdown:
        return Outcome(OutcomeKind.REQUEUE, counts_as_failure=False)
    return _failed(delivery, exc, spec, settings, time.time() if now is None else now)


def _completed(delivery: Delivery, spec: JobSpec | None) -> Outcome:
    if delivery.job is None or not delivery.job.result_ttl_ms:
        return COMPLETED
    try:
        return Outcome(OutcomeKind.COMPLETE, result=encode_result(delivery.returned, spec))
    except (ValueError, TypeError) as exc:  # the job ran: retrying would repeat its effects
        error, trace = describe_error(exc)
        return Outcome(OutcomeKind.DEAD, error=f"invalid result: {error}", traceback=trace)


def _failed(
    delivery: Delivery,
    exc: BaseException,
    spec: JobSpec | None,
    settings: QueueSettings,
    now: float,
) -> Outcome:
    error, trace = describe_error(exc, timeout_of(delivery))
    deadline = delivery.job.deadline if delivery.job is not None else None
    if isinstance(exc, PermanentError):
        return Outcome(OutcomeKind.DEAD, error=f"permanent: {error}", traceback=trace)
    if isinstance(exc, PayloadError):  # retrying cannot make a payload valid
        return Outcome(OutcomeKind.DEAD, error=str(exc)[:_ERROR_LIMIT], traceback=trace)
    if isinstance(exc, TimeoutError) and deadline is not None and now >= deadline - 0.05:
        return Outcome(OutcomeKind.DEAD, error="deadline passed while it ran", traceback=trace)
    context = job_context(delivery, spec, settings)
    if delivery.retried >= context.max_retry:
        attempts = "1 attempt" if context.attempt == 1 else f"{context.attempt} attempts"
        return Outcome(
            OutcomeKind.DEAD,
            error=f"retries exhausted after {attempts}: {error}",
            traceback=trace,
        )
    delay = retry_delay(spec, exc, context)
    if deadline is not None and now + delay > deadline:
        return Outcome(
            OutcomeKind.DEAD,
            error=f"deadline passed: no retry before it, after {error}",
            traceback=trace,
        )
    return Outcome(OutcomeKind.RETRY, delay=delay, error=error, traceback=trace)


def encode_result(value: Any, spec: JobSpec | None) -> bytes:
    """A job's return value as JSON, checked against its result type when it has one.

    Raises:
        ValueError: It does not fit its result type, or has no JSON form.
    """
    adapter = spec.result_adapter if spec is not None else None
    if adapter is None:
        return orjson.dumps(to_jsonable(value, spec.job_type if spec else "?"))
    try:
        return adapter.dump_json(adapter.validate_python(value))
    except ValidationError as exc:
        raise ValueError(str(exc).splitlines()[0]) from None


def retry_delay(spec: JobSpec | None, exc: BaseException, context: JobContext) -> float:
    """Seconds until the next attempt, by the job type's delay function (else the default)."""
    function = spec.retry_delay if spec and spec.retry_delay else DEFAULT_RETRY_DELAY
    try:
        return max(0.0, float(function(context.attempt, exc, context)))
    except Exception:  # a broken delay function must not lose the job
        return DEFAULT_RETRY_DELAY(context.attempt, exc, context)


def timeout_of(delivery: Delivery) -> Any:
    """The timeout the attempt ran under, as its message says."""
    return delivery.message.labels.get("timeout") if delivery.message is not None else None


def describe_error(exc: BaseException, timeout: Any = None) -> tuple[str, str]:
    """A one-line error and its traceback, both bounded in size."""
    if isinstance(exc, TimeoutError):
        line = f"TimeoutError: the attempt ran longer than its timeout of {timeout} s"
    else:
        line = f"{type(exc).__name__}: {exc}"
    trace = "".join(traceback.format_exception(exc))
    return line[:_ERROR_LIMIT], trace[-_TRACEBACK_LIMIT:]
