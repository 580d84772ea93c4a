"""Cancellation with real `taskiq worker` processes: a worker killed before it could act on a
cancel leaves the job cancelled, never run again."""

from __future__ import annotations

import asyncio
import signal
import time

from tests.helpers import job_fields
from tests.test_redis_worker_process import Lab, lab  # noqa: F401 - the fixture

from jobqueue import CancelResult, JobQueue, QueueSettings
from jobqueue.redis import RedisJobBroker


async def test_a_worker_killed_between_the_cancel_and_its_acknowledgement(
    lab: Lab,  # noqa: F811
    settings: QueueSettings,
) -> None:
    first = await lab.start_worker()
    producer = RedisJobBroker(settings)
    async with JobQueue(producer) as queue:
        info = await queue.enqueue("sleep", {"name": "victim", "seconds": 30})
        await lab.wait_record("started", "victim", 1)
        first.signal(signal.SIGSTOP)  # it can neither hear the cancel nor acknowledge it
        assert await queue.cancel(info.id) is CancelResult.STOPPING
        first.signal(signal.SIGKILL)
        await first.wait_exit(5)

        await lab.start_worker()  # its recovery scan finds the expired lease
        deadline = time.monotonic() + 10
        while (await job_fields(producer, info.id)).get("state") != "cancelled":
            assert time.monotonic() < deadline, await job_fields(producer, info.id)
            await asyncio.sleep(0.05)
        await asyncio.sleep(settings.lease_timeout)  # time enough to run it, had it come back
        assert [r["attempt"] for r in await lab.records("started") if r["job"] == "victim"] == [1]
        assert (await job_fields(producer, info.id))["error"] == "cancelled"
        assert await producer.client.llen(producer.keys["default"].pending) == 0
