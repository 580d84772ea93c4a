"""Records what happens to each delivery, so that its acknowledgement can apply the outcome."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from taskiq import TaskiqMessage, TaskiqMiddleware, TaskiqResult

if TYPE_CHECKING:
    from jobqueue.broker import JobBroker

__all__ = ["LifecycleMiddleware"]


class LifecycleMiddleware(TaskiqMiddleware):
    """Marks a delivery started (with its task, for shutdown) and keeps the error of a failure.

    It also applies job-type defaults that a producer without the job's code could not know (the
    timeout). It never raises: an exception in `on_error` would leave the message unacknowledged.
    """

    @property
    def job_broker(self) -> JobBroker:
        """The broker this middleware belongs to."""
        return self.broker  # type: ignore[return-value]

    def pre_execute(self, message: TaskiqMessage) -> TaskiqMessage:
        """Tie the running attempt to its delivery."""
        return self.job_broker.attempt_started(message)

    def on_error(
        self, message: TaskiqMessage, result: TaskiqResult[Any], exception: BaseException
    ) -> None:
        """Keep the error; the acknowledgement decides between retry and dead."""
        self.job_broker.attempt_failed(message, exception)
