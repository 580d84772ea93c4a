"""Run a worker inside the current event loop, the way `taskiq worker` runs it in a process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from taskiq.receiver import Receiver

from jobqueue.broker import JobBroker
from jobqueue.receiver import JobReceiver

__all__ = ["run_worker"]


@contextlib.asynccontextmanager
async def run_worker(
    broker: JobBroker, *, receiver_class: type[Receiver] = JobReceiver
) -> AsyncIterator[JobBroker]:
    """Start `broker` as a worker, by default with `JobReceiver`; stop it gracefully on exit.

    `receiver_class=taskiq.receiver.Receiver` runs it with Taskiq's own receiver instead.
    """
    broker.is_worker_process = True
    receiver = receiver_class(
        broker, max_async_tasks=broker.settings.concurrency, run_startup=False
    )
    await broker.startup()
    finish = asyncio.Event()
    listening = asyncio.create_task(receiver.listen(finish))
    try:
        yield broker
    finally:
        finish.set()
        try:
            await listening
        finally:
            await broker.shutdown()
