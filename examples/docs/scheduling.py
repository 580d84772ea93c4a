"""Delayed jobs, Taskiq's `delay` label, and periodic jobs with `taskiq scheduler`.

    python examples/docs/scheduling.py

Runs a worker in this process and two `taskiq scheduler scheduling:make_scheduler` processes
against a throw-away Redis, for about five seconds.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from taskiq import ScheduledTask, TaskiqScheduler

from jobqueue import JobQueue, JobRegistry, QueueSettings
from jobqueue.redis import RedisJobBroker, RedisScheduleSource
from jobqueue.testing import RedisServer, run_worker

HERE = Path(__file__).resolve().parent
jobs = JobRegistry()
runs: dict[str, list[float]] = {"reminder": [], "cleanup": []}


@jobs.job("reminder:send")
async def send_reminder(payload: dict[str, str]) -> None:
    runs["reminder"].append(time.time())


@jobs.job("cache:cleanup")
async def cleanup_cache(payload: dict[str, str]) -> None:
    runs["cleanup"].append(time.time())


# --8<-- [start:scheduler]
def make_scheduler() -> TaskiqScheduler:
    """For `taskiq scheduler scheduling:make_scheduler`; settings come from QUEUE_*."""
    broker = RedisJobBroker(registry=jobs)
    return TaskiqScheduler(broker, [RedisScheduleSource(broker)])


async def add_schedules(source: RedisScheduleSource) -> None:
    # Every day at 06:00 UTC, and every second (intervals are whole seconds).
    await source.add_schedule(
        ScheduledTask(
            task_name="reminder:send",
            labels={},
            args=[{"kind": "daily"}],
            kwargs={},
            cron="0 6 * * *",
            schedule_id="daily-reminder",
        )
    )
    await source.add_schedule(
        ScheduledTask(
            task_name="cache:cleanup",
            labels={"queue": "low"},  # jobqueue reads its enqueue options from labels
            args=[{}],
            kwargs={},
            interval=1,
            schedule_id="cache-cleanup",
        )
    )


# --8<-- [end:scheduler]


async def delays(settings: QueueSettings) -> None:
    async with JobQueue(RedisJobBroker(settings, registry=jobs)) as queue:
        # --8<-- [start:delays]
        start = time.time()
        await queue.enqueue_with_delay("reminder:send", {"user": "ada"}, 0.5)
        await queue.enqueue_at(
            "reminder:send", {"user": "alan"}, datetime.now(UTC) + timedelta(seconds=0.3)
        )
        # --8<-- [end:delays]
        broker = queue.broker
        assert isinstance(broker, RedisJobBroker)
        # --8<-- [start:delay-label]
        # A job sent the Taskiq way, with Taskiq's `delay` label (seconds).
        task = broker.find_task("reminder:send")
        assert task is not None
        await task.kicker().with_labels(delay=0.4).kiq({"user": "grace"})
        # --8<-- [end:delay-label]
        async with run_worker(RedisJobBroker(settings, registry=jobs)):
            for _ in range(300):
                if len(runs["reminder"]) == 3:
                    break
                await asyncio.sleep(0.01)
        late = sorted(round(t - start, 2) for t in runs["reminder"])
        print(f"delayed jobs ran at {late} s (due at 0.3, 0.4 and 0.5 s)")
        assert late[0] >= 0.3
        assert late[1] >= 0.4
        assert late[2] >= 0.5


async def periodic(settings: QueueSettings, env: dict[str, str]) -> None:
    broker = RedisJobBroker(settings, registry=jobs)
    source = RedisScheduleSource(broker)
    await source.startup()
    try:
        await add_schedules(source)
        stored = sorted(s.schedule_id for s in await source.get_schedules())
        assert stored == ["cache-cleanup", "daily-reminder"]
        command = [
            "-m",
            "taskiq",
            "scheduler",
            "scheduling:make_scheduler",
            "--log-level",
            "WARNING",
        ]
        schedulers = [
            await asyncio.create_subprocess_exec(sys.executable, *command, cwd=HERE, env=env)
            for _ in range(2)
        ]
        try:
            async with run_worker(RedisJobBroker(settings, registry=jobs)):
                await asyncio.sleep(5)
        finally:
            for process in schedulers:
                process.terminate()
                await asyncio.wait_for(process.wait(), 10)
        # Two schedulers ran, but each tick of the interval fired once.
        ticks = {int(t) for t in runs["cleanup"]}
        print(f"cache:cleanup ran {len(runs['cleanup'])} times in {len(ticks)} distinct seconds")
        assert 0 < len(runs["cleanup"]) <= 6
        await source.delete_schedule("cache-cleanup")
    finally:
        await source.shutdown()


async def main(url: str) -> None:
    settings = QueueSettings.from_env(url=url)
    await delays(settings)
    await periodic(settings, {**os.environ, "QUEUE_URL": url})


if __name__ == "__main__":
    with RedisServer() as server:
        asyncio.run(main(server.url))
