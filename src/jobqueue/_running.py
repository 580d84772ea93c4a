"""`current_job()`: the job an attempt runs, as its handler sees it, with `progress()`."""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from jobqueue._attempt import Delivery

__all__ = ["ProgressReporter", "RunningJob", "current_job", "enter"]

ProgressReporter = Callable[[Delivery, float, str], Awaitable[None]]
"""How a driver keeps a running job's progress."""

_current: contextvars.ContextVar[RunningJob | None] = contextvars.ContextVar(
    "jobqueue_current_job", default=None
)


class RunningJob:
    """The job the current attempt runs.

    Attributes:
        id: The job id.
        job_type: Its job type.
        queue: Its queue.
        attempt: 1 for the first run, 2 for the first retry, and so on.
        deadline: When it stops being run, if it has a deadline.
    """

    __slots__ = ("_delivery", "_report", "attempt", "deadline", "id", "job_type", "queue")

    def __init__(self, delivery: Delivery, report: ProgressReporter) -> None:
        self._delivery = delivery
        self._report = report
        self.id = delivery.id
        self.job_type = delivery.job_type
        self.queue = delivery.queue
        self.attempt = delivery.retried + 1
        job = delivery.job
        deadline = job.deadline if job is not None else None
        self.deadline = None if deadline is None else datetime.fromtimestamp(deadline, UTC)

    async def progress(self, fraction: float, message: str = "") -> None:
        """Report how far the job got (0 to 1) and what it is doing; producers can read it.

        One round trip to the store; a report of a delivery that lost its job changes nothing.
        """
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"progress must be between 0 and 1, got {fraction}")
        await self._report(self._delivery, float(fraction), message[:1000])

    def __repr__(self) -> str:
        return f"RunningJob({self.job_type!r}, id={self.id!r}, attempt={self.attempt})"


def current_job() -> RunningJob:
    """The job the calling code runs in.

    Raises:
        RuntimeError: Not called from inside a job's attempt.
    """
    job = _current.get()
    if job is None:
        raise RuntimeError("current_job() is only available inside a running job")
    return job


def enter(delivery: Delivery, report: ProgressReporter) -> None:
    """Make `delivery` the current job of the running task (and what it awaits)."""
    _current.set(RunningJob(delivery, report))
