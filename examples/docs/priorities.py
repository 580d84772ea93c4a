"""Weighted and strict priorities, measured on a real worker.

    python examples/docs/priorities.py

Fills three queues with 150 jobs each, runs one worker that takes one job per fetch, and counts
which queue the first 150 jobs came from: about 60 % / 30 % / 10 % with weights 6, 3 and 1, and
only `critical` in strict mode.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from jobqueue import EnqueueOptions, JobQueue, JobRegistry, QueueSettings
from jobqueue.redis import RedisJobBroker
from jobqueue.testing import RedisServer, run_worker

PER_QUEUE = 150


async def first_jobs_by_queue(settings: QueueSettings) -> Counter[str]:
    """Run a worker over a full backlog; count the queues of the first PER_QUEUE jobs run."""
    order: list[str] = []
    enough = asyncio.Event()
    jobs = JobRegistry()

    @jobs.job("work")
    async def work(payload: dict[str, str]) -> None:
        order.append(payload["queue"])
        if len(order) >= PER_QUEUE:
            enough.set()

    async with JobQueue(RedisJobBroker(settings, registry=jobs)) as queue:
        await queue.enqueue_many(
            ("work", {"queue": name}, EnqueueOptions(queue=name))
            for name in settings.queues
            for _ in range(PER_QUEUE)
        )
    async with run_worker(RedisJobBroker(settings, registry=jobs)):
        async with asyncio.timeout(20):
            await enough.wait()
    return Counter(order[:PER_QUEUE])


async def main(url: str) -> None:
    # --8<-- [start:settings]
    # One job per fetch, so every job is a separate weighted draw.
    settings = QueueSettings.from_env(
        url=url,
        queues="critical=6,default=3,low=1",  # the default; QUEUE_QUEUES in the environment
        concurrency=1,
        prefetch=0,
    )
    # --8<-- [end:settings]
    weighted = await first_jobs_by_queue(settings.model_copy(update={"key_prefix": "weighted"}))
    print("weighted:", {name: f"{weighted[name] / PER_QUEUE:.0%}" for name in settings.queues})
    assert weighted["critical"] > weighted["default"] > weighted["low"] > 0  # nobody starves

    strict = settings.model_copy(update={"key_prefix": "strict", "strict_priority": True})
    by_queue = await first_jobs_by_queue(strict)
    print("strict:  ", {name: f"{by_queue[name] / PER_QUEUE:.0%}" for name in settings.queues})
    assert by_queue == Counter({"critical": PER_QUEUE})


if __name__ == "__main__":
    with RedisServer() as server:
        asyncio.run(main(server.url))
