"""The Taskiq middlewares jobqueue's brokers install on themselves: attempt tracking and job logs.

Both get the broker's `Attempts` when they are built, and find a message's delivery by its job id
and the delivery token the message carries (`jobqueue_delivery`), never by the id alone.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from taskiq import TaskiqMessage, TaskiqMiddleware, TaskiqResult

from jobqueue._attempt import Delivery
from jobqueue._held import Attempts
from jobqueue._log import job_logger as logger
from jobqueue._wire import DELIVERY_LABEL

__all__ = ["LifecycleMiddleware", "LoggingMiddleware", "delivery_of"]


def delivery_of(attempts: Attempts, message: TaskiqMessage) -> Delivery | None:
    """The delivery a message runs, if this worker holds it."""
    token = message.labels.get(DELIVERY_LABEL)
    return attempts.find(message.task_id, str(token)) if token is not None else None


class LifecycleMiddleware(TaskiqMiddleware):
    """Reports an attempt's start and error to `Attempts`, on Taskiq's own receiver.

    `JobReceiver` reports them itself and skips this middleware. It never raises: an exception in
    `on_error` would leave the message unacknowledged.
    """

    def __init__(self, attempts: Attempts) -> None:
        super().__init__()
        self.attempts = attempts

    def pre_execute(self, message: TaskiqMessage) -> TaskiqMessage:
        """Tie the running attempt to its delivery."""
        delivery = delivery_of(self.attempts, message)
        if delivery is not None:
            self.attempts.started(delivery, message)
        return message

    def on_error(
        self, message: TaskiqMessage, result: TaskiqResult[Any], exception: BaseException
    ) -> None:
        """Keep the error; the acknowledgement decides between retry and dead."""
        delivery = delivery_of(self.attempts, message)
        if delivery is not None:
            self.attempts.failed(delivery, exception)

    def post_execute(self, message: TaskiqMessage, result: TaskiqResult[Any]) -> None:
        """Keep what the job returned, for a job that keeps its result."""
        delivery = delivery_of(self.attempts, message)
        if delivery is not None and not result.is_err:
            self.attempts.succeeded(delivery, result.return_value)


class LoggingMiddleware(TaskiqMiddleware):
    """Logs each attempt with its fields in `extra` (job_type, job_id, queue, duration_ms, ...)."""

    def __init__(self, attempts: Attempts) -> None:
        super().__init__()
        self.attempts = attempts

    @staticmethod
    def enabled() -> bool:
        """Whether the per-job lines (INFO) are logged at all."""
        return logger.isEnabledFor(logging.INFO)

    def pre_execute(self, message: TaskiqMessage) -> TaskiqMessage:
        """Log "Processing job"."""
        if not logger.isEnabledFor(logging.INFO):
            return message
        delivery = delivery_of(self.attempts, message)
        logger.info(
            "Processing job %s id=%s",
            message.task_name,
            message.task_id,
            extra={
                "job_type": message.task_name,
                "job_id": message.task_id,
                "queue": delivery.queue if delivery else None,
                "attempt": delivery.retried + 1 if delivery else None,
            },
        )
        return message

    def post_execute(self, message: TaskiqMessage, result: TaskiqResult[Any]) -> None:
        """Log "Job completed successfully" with its duration; failures are logged by on_error."""
        if result.is_err or not logger.isEnabledFor(logging.INFO):
            return
        delivery = delivery_of(self.attempts, message)
        duration = None
        if delivery is not None and delivery.started_at is not None:
            duration = round((time.monotonic() - delivery.started_at) * 1000, 1)
        logger.info(
            "Job completed successfully %s id=%s duration=%sms",
            message.task_name,
            message.task_id,
            duration,
            extra={
                "job_type": message.task_name,
                "job_id": message.task_id,
                "duration_ms": duration,
            },
        )

    def on_error(
        self, message: TaskiqMessage, result: TaskiqResult[Any], exception: BaseException
    ) -> None:
        """Log "Job failed" with the error and the attempt number ("Job cancelled" if it was)."""
        delivery = delivery_of(self.attempts, message)
        attempt = delivery.retried + 1 if delivery else None
        if delivery is not None and delivery.cancel_requested:
            logger.info(
                "Job cancelled %s id=%s",
                message.task_name,
                message.task_id,
                extra={"job_type": message.task_name, "job_id": message.task_id},
            )
            return
        logger.error(
            "Job failed %s id=%s attempt=%s error=%s: %s",
            message.task_name,
            message.task_id,
            attempt,
            type(exception).__name__,
            exception,
            extra={
                "job_type": message.task_name,
                "job_id": message.task_id,
                "error": f"{type(exception).__name__}: {exception}",
                "attempt": attempt,
                "queue": delivery.queue if delivery else None,
            },
        )
