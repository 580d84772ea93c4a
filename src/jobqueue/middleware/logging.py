"""Structured log lines for the life of a job: processing, completed (with duration), failed."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from taskiq import TaskiqMessage, TaskiqMiddleware, TaskiqResult

if TYPE_CHECKING:
    from jobqueue.broker import JobBroker

__all__ = ["LoggingMiddleware", "logger"]

logger = logging.getLogger("jobqueue")


class LoggingMiddleware(TaskiqMiddleware):
    """Logs each attempt with its fields in `extra` (job_type, job_id, queue, duration_ms, ...)."""

    @property
    def job_broker(self) -> JobBroker:
        """The broker this middleware belongs to."""
        return self.broker  # type: ignore[return-value]

    @staticmethod
    def enabled() -> bool:
        """Whether the per-job lines (INFO) are logged at all."""
        return logger.isEnabledFor(logging.INFO)

    def pre_execute(self, message: TaskiqMessage) -> TaskiqMessage:
        """Log "Processing job"."""
        if not logger.isEnabledFor(logging.INFO):
            return message
        delivery = self.job_broker.deliveries.get(message.task_id)
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
        delivery = self.job_broker.deliveries.get(message.task_id)
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
        """Log "Job failed" with the error and the attempt number."""
        delivery = self.job_broker.deliveries.get(message.task_id)
        logger.error(
            "Job failed %s id=%s attempt=%s error=%s: %s",
            message.task_name,
            message.task_id,
            delivery.retried + 1 if delivery else None,
            type(exception).__name__,
            exception,
            extra={
                "job_type": message.task_name,
                "job_id": message.task_id,
                "error": f"{type(exception).__name__}: {exception}",
                "attempt": delivery.retried + 1 if delivery else None,
                "queue": delivery.queue if delivery else None,
            },
        )
