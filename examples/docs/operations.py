"""Operations: queues at a glance, error groups, bulk actions, live workers, and the CLI.

    python examples/docs/operations.py

Runs against a throw-away Redis with a worker in this process, then prints what the `jobqueue`
command shows (the output quoted in docs/operations.md).
"""

from __future__ import annotations

import asyncio
import os

from jobqueue import JobQueue, JobRegistry, PermanentError, QueueSettings
from jobqueue.cli import main as jobqueue_command
from jobqueue.redis import RedisJobBroker
from jobqueue.redis.inspector import Inspector
from jobqueue.testing import RedisServer, run_worker

jobs = JobRegistry()
fixed: set[str] = set()


@jobs.job("import:row", max_retry=0)
async def import_row(payload: dict[str, int]) -> None:
    if payload["row"] % 3 == 0 and "rows" not in fixed:
        raise PermanentError(f"row {payload['row']} has no customer id")
    if payload["row"] % 3 == 1:
        raise ConnectionError(f"host 'db-{payload['row'] % 2}' refused the connection")


@jobs.job("report:build")
async def build_report(payload: dict[str, str]) -> None:
    await asyncio.sleep(2)


async def wait_for(inspector: Inspector, **counts: int) -> None:
    for _ in range(500):
        (info,) = await inspector.queue_info(["default"], memory=False)
        if all(getattr(info, k) == v for k, v in counts.items()):
            return
        await asyncio.sleep(0.01)
    raise TimeoutError(counts)


# --8<-- [start:queues]
async def show_queues(inspector: Inspector) -> None:
    for q in await inspector.queue_info():  # one round trip; memory estimated by sampling
        print(
            f"{q.queue:<9} pending={q.pending} dead={q.dead} latency={q.latency:.1f}s"
            f" memory={q.memory_bytes}B processed={q.processed_total} failed={q.failed_total}"
            f" groups={q.error_groups} paused={q.paused}"
        )


# --8<-- [end:queues]


async def main(settings: QueueSettings) -> None:
    async with JobQueue(RedisJobBroker(settings, registry=jobs)) as queue:
        broker = queue.broker
        assert isinstance(broker, RedisJobBroker)
        inspector = Inspector(broker)
        await queue.enqueue_many(("import:row", {"row": n}) for n in range(12))
        async with run_worker(RedisJobBroker(settings, registry=jobs)):
            await wait_for(inspector, dead=8, pending=0, active=0)
            await show_queues(inspector)

            # --8<-- [start:errors]
            for group in await inspector.error_groups("default"):
                print(group.id, group.count, group.error_type, group.message, group.sample_job)
            # --8<-- [end:errors]

            # --8<-- [start:bulk]
            page = await inspector.list_jobs("default", "dead", error="customer id", limit=10)
            print(f"{len(page.jobs)} of {page.total} dead jobs match")
            fixed.add("rows")  # the data was fixed: run that group of jobs again
            (group,) = [g for g in await inspector.error_groups() if "customer" in g.message]
            result = await inspector.run_group("default", group.id)
            print(f"ran {result.done} jobs again")
            # --8<-- [end:bulk]
            await wait_for(inspector, dead=4, pending=0, active=0)

            await queue.enqueue("report:build", {"kind": "daily"})
            await asyncio.sleep(1.2)  # a worker rewrites its record within a second
            # --8<-- [start:workers]
            for worker in await inspector.workers():
                running = ", ".join(f"{j.job_type} {j.id}" for j in worker.running)
                print(f"{worker.host} pid={worker.pid} queues={worker.queues} running: {running}")
            # --8<-- [end:workers]
            await cli(settings, "workers")
            await wait_for(inspector, pending=0, active=0)
        for argv in (
            ["queues"],
            ["errors"],
            ["history", "default", "--days", "3"],
            ["jobs", "default", "dead", "--limit", "3"],
            ["errors", "--json"],
        ):
            await cli(settings, *argv)
        (left,) = await inspector.error_groups("default")
        await cli(settings, "run", "--group", left.id, "--yes")


async def cli(settings: QueueSettings, *argv: str) -> None:
    """What `jobqueue <argv>` prints with these settings."""
    print(f"$ jobqueue {' '.join(argv)}")
    os.environ["QUEUE_URL"] = settings.redis_url()
    os.environ["QUEUE_KEY_PREFIX"] = settings.key_prefix
    status = await asyncio.to_thread(jobqueue_command, list(argv))
    assert status == 0, status


if __name__ == "__main__":
    with RedisServer() as server:
        asyncio.run(main(QueueSettings.from_env(url=server.url)))
