"""Build a broker or a queue from settings, picking the driver by `QUEUE_DRIVER`."""

from __future__ import annotations

from jobqueue.broker import JobBroker
from jobqueue.jobs import JobRegistry
from jobqueue.queue import JobQueue
from jobqueue.settings import QueueSettings

__all__ = ["connect", "create_broker"]


def create_broker(
    settings: QueueSettings | None = None, *, registry: JobRegistry | None = None
) -> JobBroker:
    """Build the broker of the configured driver (not yet started).

    In a worker module, wrap it in a factory so that nothing connects at import time:

        def make_broker() -> JobBroker:
            return create_broker(registry=jobs)

    and run `taskiq worker app.worker:make_broker`.
    """
    settings = settings if settings is not None else QueueSettings.from_env()
    if settings.driver == "memory":
        from jobqueue.memory import MemoryJobBroker

        return MemoryJobBroker(settings, registry=registry)
    from jobqueue.redis import RedisJobBroker

    return RedisJobBroker(settings, registry=registry)


def connect(
    settings: QueueSettings | None = None, *, registry: JobRegistry | None = None
) -> JobQueue:
    """Build a `Queue` for producers; use it as an async context manager."""
    return JobQueue(create_broker(settings, registry=registry))
