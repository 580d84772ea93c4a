"""Run a worker inside the current event loop, the way `taskiq worker` runs it in a process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from taskiq.receiver import Receiver

from jobqueue.broker import JobBroker

__all__ = ["run_worker"]


@contextlib.asynccontextmanager
async def run_worker(broker: JobBroker) -> AsyncIterator[JobBroker]:
    """Start `broker` as a worker with Taskiq's own receiver; stop it gracefully on exit."""
    broker.is_worker_process = True
    receiver = Receiver(broker, max_async_tasks=broker.settings.concurrency, run_startup=False)
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
