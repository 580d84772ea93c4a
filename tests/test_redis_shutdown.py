"""Stopping a worker in-process: no hang, and jobs past the grace period really stop.

Both tests guard against lost cancellations: on Python 3.11, `asyncio.wait_for` (which redis-py
uses to send every command) drops a cancellation that arrives just as the command completes. A
single `task.cancel()` is therefore not enough to stop a task that is busy with Redis calls.
The signal-driven shutdown of a real `taskiq worker` is in `test_redis_worker_process.py`.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from taskiq.receiver import Receiver
from tests.helpers import job_fields

from jobqueue import JobQueue, JobRegistry, QueueSettings
from jobqueue.redis import RedisJobBroker
from jobqueue.testing import run_worker

ROOT = Path(__file__).resolve().parent.parent

# Start and stop an in-process worker ten times (five with each receiver), each stop right after
# the start (while the background loops are in their first Redis calls). Run in a subprocess so a
# hang fails the test.
STOP_AT_ONCE = """
import asyncio, sys
from jobqueue import QueueSettings
from jobqueue.redis import RedisJobBroker
from jobqueue.receiver import JobReceiver
from jobqueue.testing import run_worker
from taskiq.receiver import Receiver

async def main():
    settings = QueueSettings(url=sys.argv[1], key_prefix=sys.argv[2])
    for i in range(10):
        receiver_class = (JobReceiver, Receiver)[i % 2]
        async with run_worker(RedisJobBroker(settings), receiver_class=receiver_class):
            pass

asyncio.run(main())
"""


def test_worker_stopped_right_after_it_started_does_not_hang(
    settings: QueueSettings, jobqueue_redis_url: str
) -> None:
    # Regression: a background loop whose cancellation was lost kept running, and stopping the
    # worker waited for it forever.
    subprocess.run(
        [sys.executable, "-c", STOP_AT_ONCE, jobqueue_redis_url, settings.key_prefix],
        cwd=ROOT,
        check=True,
        timeout=30,
    )


async def test_job_busy_with_redis_is_stopped_after_the_grace_period(
    settings: QueueSettings, jobqueue_redis_url: str, receiver_class: type[Receiver]
) -> None:
    # Regression: the job below is inside a Redis call nearly all the time, so the one
    # cancellation sent when the grace period ended was often lost; the job then ran to its
    # end (3 s here) and shutdown waited for it.
    grace = 0.1
    settings = settings.model_copy(update={"shutdown_timeout": grace})
    client = Redis.from_url(jobqueue_redis_url)
    started = asyncio.Event()
    registry = JobRegistry()

    @registry.job("shutdown:busy")
    async def busy(payload: dict[str, Any]) -> None:
        started.set()
        until = time.monotonic() + 3
        while time.monotonic() < until:
            await client.incr(f"{settings.key_prefix}:busy")

    producer = RedisJobBroker(settings)
    keys = producer.keys["default"]
    try:
        async with JobQueue(producer) as queue:
            # Several rounds: whether a cancellation is lost is a matter of timing.
            for _ in range(6):
                started.clear()
                info = await queue.enqueue("shutdown:busy", {})
                async with run_worker(
                    RedisJobBroker(settings, registry=registry), receiver_class=receiver_class
                ):
                    await asyncio.wait_for(started.wait(), 5)
                    stopping = time.monotonic()
                took = time.monotonic() - stopping

                assert took < grace + 1.0, f"shutdown took {took:.2f} s"
                # Stopped for shutdown: back to pending, not a failure.
                job = await job_fields(producer, info.id)
                assert (job["state"], job["retried"]) == ("pending", "0")
                assert await client.lrange(keys.pending, 0, -1) == [info.id.encode()]
                await client.delete(keys.pending)
            assert await client.hget(keys.stats, "failed") is None
    finally:
        await client.aclose()
