"""Inspecting and managing queues: counts per state, dead jobs, run again, delete, pause.

    python examples/docs/monitoring.py

Runs against a throw-away Redis with a worker in this process.
"""

from __future__ import annotations

import asyncio

from jobqueue import EnqueueOptions, JobQueue, JobRegistry, PermanentError, QueueSettings
from jobqueue.redis import RedisJobBroker
from jobqueue.redis.inspector import Inspector
from jobqueue.testing import RedisServer, run_worker

jobs = JobRegistry()
fixed: set[int] = set()


@jobs.job("import:row")
async def import_row(payload: dict[str, int]) -> None:
    if payload["row"] == 3 and 3 not in fixed:
        raise PermanentError("row 3 has no id")


# --8<-- [start:stats]
async def print_stats(settings: QueueSettings) -> None:
    broker = RedisJobBroker(settings)  # no registry needed to inspect
    await broker.startup()
    try:
        for s in await Inspector(broker).stats():
            print(
                f"{s.queue:<9} pending={s.pending} scheduled={s.scheduled} active={s.active}"
                f" retry={s.retry} dead={s.dead} paused={s.paused}"
                f" processed_total={s.processed_total} failed_total={s.failed_total}"
            )
    finally:
        await broker.shutdown()


# --8<-- [end:stats]


async def wait_for(what: str, inspector: Inspector, queue: str, **counts: int) -> None:
    for _ in range(250):
        stats = {s.queue: s for s in await inspector.stats()}[queue]
        if all(getattr(stats, k) == v for k, v in counts.items()):
            return
        await asyncio.sleep(0.02)
    raise TimeoutError(f"{what}: {stats}")


async def main(settings: QueueSettings) -> None:
    async with JobQueue(RedisJobBroker(settings, registry=jobs)) as queue:
        broker = queue.broker
        assert isinstance(broker, RedisJobBroker)
        inspector = Inspector(broker)
        await queue.enqueue_many(("import:row", {"row": n}) for n in range(1, 6))
        later = await queue.enqueue_with_delay("import:row", {"row": 6}, 3600)
        # --8<-- [start:pause]
        await inspector.pause("low")  # workers stop fetching from `low`; enqueues still work
        # --8<-- [end:pause]
        await queue.enqueue_with_options("import:row", {"row": 7}, EnqueueOptions(queue="low"))

        async with run_worker(RedisJobBroker(settings, registry=jobs)):
            await wait_for("rows 1-5 handled", inspector, "default", pending=0, active=0, dead=1)
            await wait_for("low is paused", inspector, "low", pending=1)
            await print_stats(settings)

            # --8<-- [start:dead]
            for record in await inspector.jobs("default", "dead", limit=20):
                print(record.id, record.job_type, record.payload, record.error)
                fixed.add(record.payload["row"])  # pretend the data was fixed...
                await inspector.run_now(record.id, "default")  # ...and run it again
            # --8<-- [end:dead]
            await wait_for("row 3 ran again", inspector, "default", dead=0, pending=0, active=0)

            # --8<-- [start:manage]
            await inspector.resume("low")
            await inspector.delete(later.id, "default")  # also releases a unique lock
            assert await inspector.job(later.id) is None
            # --8<-- [end:manage]
            await wait_for("low resumed", inspector, "low", pending=0, active=0)
        await print_stats(settings)


if __name__ == "__main__":
    with RedisServer() as server:
        asyncio.run(main(QueueSettings.from_env(url=server.url)))
