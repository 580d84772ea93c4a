from __future__ import annotations

import asyncio

from jobqueue import JobQueue, JobRegistry, QueueSettings
from jobqueue.redis import RedisJobBroker
from jobqueue.testing import run_worker


async def test_job_runs_through_redis(settings: QueueSettings) -> None:
    registry = JobRegistry()
    seen: list[dict[str, int]] = []

    @registry.job("count")
    async def count(payload: dict[str, int]) -> None:
        seen.append(payload)

    async with JobQueue(RedisJobBroker(settings, registry=registry)) as queue:
        for i in range(20):
            await queue.enqueue("count", {"i": i})
        async with run_worker(RedisJobBroker(settings, registry=registry)):
            for _ in range(200):
                if len(seen) == 20:
                    break
                await asyncio.sleep(0.01)
    assert sorted(p["i"] for p in seen) == list(range(20))
