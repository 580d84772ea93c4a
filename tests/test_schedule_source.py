"""The Redis schedule source: one-off schedules become scheduled jobs, periodic ones fire once."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
from taskiq import ScheduledTask, TaskiqScheduler

from jobqueue import JobRegistry, QueueSettings
from jobqueue.redis import RedisJobBroker, RedisScheduleSource
from jobqueue.testing import run_worker


def _registry(runs: list[float]) -> JobRegistry:
    registry = JobRegistry()

    @registry.job("report:daily")
    async def daily(payload: dict[str, str]) -> None:
        runs.append(time.time())

    return registry


async def test_one_off_schedule_is_forwarded_by_workers(settings: QueueSettings) -> None:
    runs: list[float] = []
    broker = RedisJobBroker(settings, registry=_registry(runs))
    source = RedisScheduleSource(broker)
    await source.startup()
    try:
        due = datetime.now(UTC) + timedelta(seconds=0.3)
        await source.add_schedule(
            ScheduledTask(
                task_name="report:daily", labels={}, args=[{"kind": "x"}], kwargs={}, time=due
            )
        )
        keys = broker.keys["default"]
        assert await broker.client.zcard(keys.scheduled) == 1
        assert await source.get_schedules() == []  # one-off schedules live in the queue
        async with run_worker(RedisJobBroker(settings, registry=_registry(runs))):
            for _ in range(100):
                if runs:
                    break
                await asyncio.sleep(0.02)
        assert len(runs) == 1
        assert runs[0] >= due.timestamp() - 0.01
    finally:
        await source.shutdown()


async def test_periodic_schedule_fires_once_per_tick_across_schedulers(
    settings: QueueSettings,
) -> None:
    runs: list[float] = []
    brokers = [RedisJobBroker(settings, registry=_registry(runs)) for _ in range(3)]
    sources = [RedisScheduleSource(b) for b in brokers]
    for source in sources:
        await source.startup()
    try:
        task = ScheduledTask(
            task_name="report:daily",
            labels={},
            args=[{"kind": "cron"}],
            kwargs={},
            cron="* * * * *",
        )
        await sources[0].add_schedule(task)
        stored = await sources[1].get_schedules()
        assert [s.schedule_id for s in stored] == [task.schedule_id]
        schedulers = [TaskiqScheduler(b, [s]) for b, s in zip(brokers, sources, strict=True)]
        # Three scheduler processes reach the same tick at once: one job, not three.
        await asyncio.gather(
            *(sch.on_ready(src, task) for sch, src in zip(schedulers, sources, strict=True))
        )
        pending = brokers[0].keys["default"].pending
        assert await brokers[0].client.llen(pending) == 1

        await sources[2].delete_schedule(task.schedule_id)
        assert await sources[0].get_schedules() == []
    finally:
        for source in sources:
            await source.shutdown()


async def test_taskiq_delay_label_is_honoured(settings: QueueSettings) -> None:
    runs: list[float] = []
    registry = _registry(runs)
    broker = RedisJobBroker(settings, registry=registry)
    await broker.startup()
    try:
        task = broker.find_task("report:daily")
        assert task is not None
        sent = time.time()
        await task.kicker().with_labels(delay=0.3).kiq({"kind": "taskiq"})
        keys = broker.keys["default"]
        assert await broker.client.zcard(keys.scheduled) == 1
        async with run_worker(RedisJobBroker(settings, registry=_registry(runs))):
            for _ in range(100):
                if runs:
                    break
                await asyncio.sleep(0.02)
        assert runs
        assert runs[0] - sent >= 0.29
    finally:
        await broker.shutdown()


@pytest.mark.parametrize("interval", [3600, timedelta(hours=1)])
async def test_interval_tick_lock(settings: QueueSettings, interval: int | timedelta) -> None:
    broker = RedisJobBroker(settings)
    source = RedisScheduleSource(broker)
    await source.startup()
    try:
        task = ScheduledTask(
            task_name="report:daily", labels={}, args=[], kwargs={}, interval=interval
        )
        from taskiq.exceptions import ScheduledTaskCancelledError

        await source.pre_send(task)
        with pytest.raises(ScheduledTaskCancelledError):
            await source.pre_send(task)
    finally:
        await source.shutdown()
