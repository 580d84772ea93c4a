"""An idle worker starts a new job at once, however long its idle poll has grown."""

from __future__ import annotations

import asyncio
import time

from jobqueue import JobQueue, JobRegistry, QueueSettings
from jobqueue._attempt import Delivery
from jobqueue.redis import RedisJobBroker
from jobqueue.testing import run_worker


async def test_job_stored_while_an_empty_fetch_is_in_flight_wakes_the_worker(
    settings: QueueSettings,
) -> None:
    # The idle poll backs off to 0.5 s. A job stored after the fetch ran in Redis but before its
    # (empty) reply was read must still end the idle wait: its pub/sub wake-up may be handled
    # before the worker starts waiting, and must not be lost then.
    settings = settings.model_copy(update={"poll_interval": 0.5})
    registry = JobRegistry()
    started = asyncio.Event()

    @registry.job("wake:me")
    async def wake_me(payload: dict[str, int]) -> None:
        started.set()

    worker = RedisJobBroker(settings, registry=registry)
    producer = RedisJobBroker(settings, registry=registry)
    empty_fetches = 0
    stored_at: float | None = None
    fetch = worker._fetch

    async def fetch_then_store(count: int) -> list[Delivery]:
        nonlocal empty_fetches, stored_at
        batch = await fetch(count)
        if not batch:
            empty_fetches += 1
            if empty_fetches == 12 and stored_at is None:  # the idle wait is 0.5 s by now
                await queue.enqueue("wake:me", {"n": 1})
                stored_at = time.monotonic()
                await asyncio.sleep(0.05)  # the wake-up arrives before the reply is handled
        return batch

    worker._fetch = fetch_then_store  # type: ignore[method-assign]
    async with JobQueue(producer) as queue, run_worker(worker):
        await asyncio.wait_for(started.wait(), 5)
    assert stored_at is not None
    assert time.monotonic() - stored_at < 0.25
