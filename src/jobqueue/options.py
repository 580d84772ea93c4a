"""Value objects of the public API: enqueue options, job info, job states, records and progress."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Generic

from typing_extensions import TypeVar

from jobqueue._names import check_job_id, check_queue_name
from jobqueue.errors import InvalidOptionsError

__all__ = [
    "CancelResult",
    "EnqueueOptions",
    "JobContext",
    "JobInfo",
    "JobRecord",
    "JobState",
    "Progress",
    "as_deadline",
    "as_seconds",
]

R = TypeVar("R", default=Any)


class JobState(enum.StrEnum):
    """Where a job is in its life cycle."""

    PENDING = "pending"
    SCHEDULED = "scheduled"
    ACTIVE = "active"
    RETRY = "retry"
    COMPLETED = "completed"
    DEAD = "dead"
    CANCELLED = "cancelled"
    """Cancelled by `cancel()`: kept like a dead job, with "cancelled" as its error."""


class CancelResult(enum.StrEnum):
    """What `cancel()` did."""

    CANCELLED = "cancelled"
    """It was waiting (pending, scheduled, retry): removed, and kept as cancelled."""
    STOPPING = "stopping"
    """It is running: its worker is told to stop it, and it ends cancelled."""
    FINISHED = "finished"
    """It had already ended (completed, dead or cancelled): nothing changed."""
    NOT_FOUND = "not_found"
    """No such job (or it completed and was not kept)."""


def as_deadline(value: datetime | timedelta | float | None, now: float) -> float | None:
    """A deadline as epoch seconds: a timezone-aware time, or a duration from `now`."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InvalidOptionsError("deadline must be timezone-aware (or a duration from now)")
        return value.timestamp()
    seconds = as_seconds(value, "deadline")
    assert seconds is not None
    return now + seconds


def as_seconds(value: timedelta | float | None, name: str) -> float | None:
    """Normalise a duration given as `timedelta` or seconds; refuse negative values."""
    if value is None:
        return None
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds < 0:
        raise InvalidOptionsError(f"{name} must not be negative, got {seconds}")
    return seconds


@dataclass(frozen=True, slots=True, kw_only=True)
class EnqueueOptions:
    """Options of one enqueue; `None` means "the job type's default, else the queue's".

    Attributes:
        queue: Queue name (`critical`, `default`, `low`, ...); default: the job type's queue,
            else `default`.
        max_retry: Retries after the first attempt before the job goes to dead.
        timeout: Seconds (or a timedelta) one attempt may run; past it the attempt fails.
        unique: Refuse a second job with the same queue, type and payload while the first lives.
        unique_ttl: How long the uniqueness lock lasts at most (needed when `unique` is set, unless
            the job type declares one).
        delay: Run no earlier than this long from now.
        process_at: Run no earlier than this timezone-aware time.
        job_id: Use this id instead of a generated one (a second job with it is a duplicate):
            1 to 200 printable ASCII characters, without whitespace or braces.
        result_ttl: Keep the job's return value (and its outcome) this long after it ends, so
            that `result()` can read it; default: the job type's, else not kept.
        deadline: Do not start the job after this time (timezone-aware), or this long after the
            enqueue; an attempt still running then is stopped. Either way the job goes to dead
            with "deadline passed". Default: the job type's, else none.

    Raises:
        InvalidOptionsError: Options contradict each other, or a value breaks its rule (a queue
            name or job id as `jobqueue._names` checks them).
    """

    queue: str | None = None
    max_retry: int | None = None
    timeout: timedelta | float | None = None
    unique: bool = False
    unique_ttl: timedelta | float | None = None
    delay: timedelta | float | None = None
    process_at: datetime | None = None
    job_id: str | None = None
    result_ttl: timedelta | float | None = None
    deadline: datetime | timedelta | float | None = None

    def __post_init__(self) -> None:
        if self.delay is not None and self.process_at is not None:
            raise InvalidOptionsError("give either delay or process_at, not both")
        if self.process_at is not None and self.process_at.tzinfo is None:
            raise InvalidOptionsError(
                "process_at must be timezone-aware (e.g. datetime.now(timezone.utc))"
            )
        if self.max_retry is not None and self.max_retry < 0:
            raise InvalidOptionsError(f"max_retry must be >= 0, got {self.max_retry}")
        timeout = as_seconds(self.timeout, "timeout")
        if timeout is not None and timeout == 0:
            raise InvalidOptionsError("timeout must be positive")
        ttl = as_seconds(self.unique_ttl, "unique_ttl")
        if ttl is not None and ttl == 0:
            raise InvalidOptionsError("unique_ttl must be positive")
        if self.unique_ttl is not None and not self.unique:
            raise InvalidOptionsError("unique_ttl is set but unique is False")
        as_seconds(self.delay, "delay")
        as_seconds(self.result_ttl, "result_ttl")
        as_deadline(self.deadline, 0.0)
        if self.queue is not None:
            check_queue_name(self.queue)
        if self.job_id is not None:
            check_job_id(self.job_id)


ResultReader = Callable[["JobInfo[Any]", "float | None"], Awaitable[Any]]
"""How a `JobInfo` waits for its job's outcome: the queue that made it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class JobInfo(Generic[R]):
    """What the queue knows of a job right after it was enqueued.

    `await info.result(timeout=...)` waits for the job's outcome (see `Queue.result`); with a
    typed `JobType[P, R]`, mypy knows it returns an `R`.

    Attributes:
        id: The job id.
        job_type: The job type, such as `email:send`.
        queue: The queue it went to.
        state: `pending`, or `scheduled` for a delayed job.
        enqueued_at: When it was enqueued (UTC).
        process_at: When it becomes due (UTC); `enqueued_at` for an immediate job.
        max_retry: Retries allowed; `None` means the job type's default decided by the worker.
        timeout: Seconds one attempt may run; `None` means the job type's default, if any.
    """

    id: str
    job_type: str
    queue: str
    state: JobState
    enqueued_at: datetime
    process_at: datetime
    max_retry: int | None
    timeout: float | None
    result_ttl: float | None = None
    """Seconds its return value is kept after it ends; `None`: not kept."""
    deadline: datetime | None = None
    """It is not started (nor kept running) after this time."""
    reader: ResultReader | None = field(default=None, compare=False, repr=False)
    """Set by the queue that enqueued it, for `result()`."""

    async def result(self, timeout: float | None = None) -> R:
        """Wait for the job's outcome: its return value, or `JobFailedError`.

        Raises:
            JobFailedError: It ended dead or cancelled (the error says why).
            ResultTimeoutError: `timeout` seconds passed first.
            JobNotFoundError: No such job, or its result's retention ended.
        """
        if self.reader is None:
            raise RuntimeError("this JobInfo was not made by a queue: use queue.result(job_id)")
        return await self.reader(self, timeout)  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class Progress:
    """The latest progress a running job reported (`current_job().progress(...)`).

    Attributes:
        fraction: How far it got, from 0 to 1.
        message: What it said about it.
        updated_at: When it said so.
    """

    fraction: float
    message: str
    updated_at: datetime

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Progress:
        """From its stored JSON form (`{"f": fraction, "m": message, "t": epoch ms}`)."""
        return cls(
            fraction=float(raw["f"]),
            message=str(raw.get("m", "")),
            updated_at=datetime.fromtimestamp(int(raw["t"]) / 1000, UTC),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class JobContext:
    """The job an attempt belongs to, as retry-delay functions and logs see it.

    Attributes:
        id: The job id.
        job_type: The job type.
        queue: The queue it was fetched from.
        attempt: 1 for the first run, 2 for the first retry, and so on.
        max_retry: Retries allowed in all.
    """

    id: str
    job_type: str
    queue: str
    attempt: int
    max_retry: int


@dataclass(frozen=True, slots=True)
class JobRecord:
    """A stored job as the inspector (or the memory driver's `job()`) shows it.

    Attributes:
        id: The job id.
        queue: Its queue.
        job_type: Its job type (`"?"` when its record cannot be read).
        state: Where it is in its life cycle.
        payload: Its payload (`None` when its record cannot be read).
        retried: Failed attempts so far.
        max_retry: Retries allowed by the job's own options; `None`: the job type's default.
        error: The last error, or why it is dead.
        traceback: The last error's traceback.
        enqueued_at: When it was stored.
        process_at: When it is (or was) due.
        failed_at: When its last attempt failed.
        deliveries: How many times a worker fetched it.
        lost: How many times its lease expired before it finished.
        timeout: Seconds one attempt may run, by the job's own options.
        progress: The latest progress it reported while running, if any.
        result: Its return value, when it completed and keeps one (`result_ttl`).
        deadline: When it stops being run, if it has a deadline.
    """

    id: str
    queue: str
    job_type: str
    state: JobState | str
    payload: Any
    retried: int
    max_retry: int | None
    error: str | None
    traceback: str | None
    enqueued_at: datetime | None
    process_at: datetime | None
    failed_at: datetime | None
    deliveries: int
    lost: int = 0
    timeout: float | None = None
    progress: Progress | None = None
    result: Any = None
    """The stored return value (JSON), when the job keeps one."""
    deadline: datetime | None = None
