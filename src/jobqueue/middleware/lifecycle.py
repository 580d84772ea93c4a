"""Records what happens to each delivery, so that its acknowledgement can apply the outcome."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from taskiq import TaskiqMessage, TaskiqMiddleware, TaskiqResult

from jobqueue.labels import Label

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
        broker = self.job_broker
        delivery = broker.deliveries.get(message.task_id)
        if delivery is not None:
            delivery.task_message = message
            delivery.started_at = time.monotonic()
            delivery.task = asyncio.current_task()
            if broker.drain_expired and delivery.task is not None:
                # Shutdown's grace period is over: do not start, go back to pending instead.
                delivery.stopped_for_shutdown = True
                delivery.task.cancel()
        if Label.TIMEOUT not in message.labels:
            spec = broker.job_specs.get(message.task_name)
            if spec is not None and spec.timeout is not None:
                message.labels[Label.TIMEOUT] = spec.timeout
        return message

    def on_error(
        self, message: TaskiqMessage, result: TaskiqResult[Any], exception: BaseException
    ) -> None:
        """Keep the error; the acknowledgement decides between retry and dead."""
        delivery = self.job_broker.deliveries.get(message.task_id)
        if delivery is not None:
            delivery.error = exception
