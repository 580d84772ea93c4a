"""Unique jobs and job ids: what counts as a duplicate, and when the lock is released.

    python examples/docs/unique_jobs.py

Runs a worker in this process against a throw-away Redis.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any

from jobqueue import (
    DuplicateJobError,
    EnqueueOptions,
    JobInfo,
    JobQueue,
    JobRegistry,
    Queue,
    QueueSettings,
    fixed_schedule,
)
from jobqueue.redis import RedisJobBroker
from jobqueue.testing import RedisServer, run_worker

jobs = JobRegistry()
runs: Counter[int] = Counter()


# --8<-- [start:job-type]
@jobs.job("report:build", unique_ttl=3600, retry_delay=fixed_schedule(0.3))
async def build_report(payload: dict[str, Any]) -> None:
    runs[payload.get("account", 0)] += 1
    if payload.get("account") == 42 and runs[42] == 1:
        raise ConnectionError("database unavailable")  # fails once, retried 0.3 s later


# --8<-- [end:job-type]


async def wait_until(condition: Callable[[], bool]) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise TimeoutError


async def try_enqueue(queue: Queue, payload: dict[str, Any], opts: EnqueueOptions) -> str:
    try:
        info = await queue.enqueue_with_options("report:build", payload, opts)
    except DuplicateJobError as exc:
        return f"duplicate of {exc.existing_id}"
    return f"accepted as {info.id}"


async def main(settings: QueueSettings) -> None:
    async with JobQueue(RedisJobBroker(settings, registry=jobs)) as queue:
        # --8<-- [start:duplicates]
        unique = EnqueueOptions(unique=True)  # the TTL comes from the job type
        first = await queue.enqueue_with_options(
            "report:build", {"account": 42, "month": "2024-05"}, unique
        )
        try:
            # Same queue, job type and payload: key order does not matter.
            await queue.enqueue_with_options(
                "report:build", {"month": "2024-05", "account": 42}, unique
            )
        except DuplicateJobError as exc:
            print(f"refused: {exc}")
            existing = exc.existing_id
        assert existing == first.id  # the id of the job that holds the lock

        # Another payload, or another queue, is another job.
        other = await queue.enqueue_with_options(
            "report:build", {"account": 43, "month": "2024-05"}, unique
        )
        elsewhere = await queue.enqueue_with_options(
            "report:build",
            {"account": 42, "month": "2024-05"},
            EnqueueOptions(unique=True, queue="low"),
        )
        # --8<-- [end:duplicates]
        assert isinstance(other, JobInfo)
        assert isinstance(elsewhere, JobInfo)

        # --8<-- [start:delayed]
        # A delayed unique job holds its lock while it waits.
        later = EnqueueOptions(unique=True, unique_ttl=120, delay=60)
        await queue.enqueue_with_options("report:build", {"account": 1, "month": "2024-06"}, later)
        result = await try_enqueue(queue, {"account": 1, "month": "2024-06"}, later)
        assert result.startswith("duplicate of")
        # --8<-- [end:delayed]

        # --8<-- [start:job-id]
        await queue.enqueue_with_options("report:build", {}, EnqueueOptions(job_id="monthly-42"))
        try:
            await queue.enqueue_with_options(
                "report:build", {}, EnqueueOptions(job_id="monthly-42")
            )
        except DuplicateJobError as exc:
            print(f"refused: {exc}")  # exc.existing_id == "monthly-42"
        # --8<-- [end:job-id]

    # Now let a worker run the jobs of the default queue; the job of `account` 42 fails once.
    worker_settings = settings.model_copy(update={"queues": {"default": 1}})
    async with JobQueue(RedisJobBroker(settings, registry=jobs)) as queue:
        payload = {"account": 42, "month": "2024-05"}
        async with run_worker(RedisJobBroker(worker_settings, registry=jobs)):
            # --8<-- [start:released]
            # While the job waits for its retry, the lock is still held...
            await wait_until(lambda: runs[42] == 1)
            await asyncio.sleep(0.1)  # the failure is recorded
            during = await try_enqueue(queue, payload, unique)
            print("during the retry:", during)  # duplicate of <first id>
            # ...and once it has succeeded, the same job can be enqueued again.
            await wait_until(lambda: runs[42] == 2)
            await asyncio.sleep(0.1)  # the success is recorded
            after = await try_enqueue(queue, payload, unique)
            print("after success:", after)  # accepted as <new id>
            # --8<-- [end:released]
            assert during.startswith("duplicate of")
            assert after.startswith("accepted as")


if __name__ == "__main__":
    with RedisServer() as server:
        asyncio.run(main(QueueSettings.from_env(url=server.url)))
