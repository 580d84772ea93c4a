"""Schedules as the inspector shows them: next run (as `taskiq scheduler` decides it) and the
last enqueue (time and job id) recorded by `RedisScheduleSource`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pycron  # type: ignore[import-untyped]
import pytest
from taskiq import ScheduledTask, TaskiqScheduler

from jobqueue import JobRegistry, QueueSettings
from jobqueue.redis import RedisJobBroker, RedisScheduleSource
from jobqueue.redis._cron import next_cron, next_interval
from jobqueue.redis.inspector import Inspector

NOW = datetime(2026, 2, 27, 13, 37, 21, tzinfo=UTC)


def brute_force(expr: str, now: datetime, shift: timedelta = timedelta()) -> datetime:
    t = (now + shift).replace(second=0, microsecond=0, tzinfo=None) + timedelta(minutes=1)
    while not pycron.is_now(expr, t):
        t += timedelta(minutes=1)
    return (t - shift).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    "expr",
    [
        "* * * * *",
        "*/15 * * * *",
        "0 9 * * 1-5",
        "30 2 1 * *",
        "0 0 29 2 *",
        "5 4 * * sun",
        "0 12 13 * 5",
        "0 0 1 1 *",
    ],
)
def test_next_cron_agrees_with_the_scheduler(expr: str) -> None:
    if expr in ("0 0 29 2 *", "0 0 1 1 *"):
        # brute force is slow for these: check the answer instead
        found = next_cron(expr, None, NOW)
        assert found is not None
        assert pycron.is_now(expr, found.replace(tzinfo=None))
        assert found > NOW
        return
    assert next_cron(expr, None, NOW) == brute_force(expr, NOW)


def test_next_cron_in_an_offset_and_a_time_zone() -> None:
    assert next_cron("0 9 * * *", timedelta(hours=2), NOW) == brute_force(
        "0 9 * * *", NOW, timedelta(hours=2)
    )
    paris = next_cron("0 9 * * *", "Europe/Paris", NOW)
    assert paris == datetime(2026, 2, 28, 8, 0, tzinfo=UTC)  # 09:00 CET
    assert next_cron("not a cron", None, NOW) is None
    assert next_cron("0 0 31 2 *", None, NOW) is None  # never


def test_next_interval_is_on_the_next_tick() -> None:
    assert next_interval(60, NOW, None) == datetime(2026, 2, 27, 13, 38, tzinfo=UTC)
    last = NOW - timedelta(seconds=10)
    assert next_interval(3600, NOW, last) == datetime(2026, 2, 27, 14, 37, 11, tzinfo=UTC)
    long_ago = NOW - timedelta(days=1)
    assert next_interval(60, NOW, long_ago) == datetime(2026, 2, 27, 13, 38, tzinfo=UTC)


async def test_schedules_show_next_run_and_last_enqueue(settings: QueueSettings) -> None:
    registry = JobRegistry()

    @registry.job("report:daily")
    async def daily(payload: dict[str, str]) -> None:
        pass

    broker = RedisJobBroker(settings, registry=registry)
    source = RedisScheduleSource(broker)
    await source.startup()
    try:
        inspector = Inspector(broker)
        cron = ScheduledTask(
            schedule_id="daily",
            task_name="report:daily",
            labels={"queue": "low"},
            args=[{"kind": "daily"}],
            kwargs={},
            cron="0 6 * * *",
        )
        every = ScheduledTask(
            schedule_id="often",
            task_name="report:daily",
            labels={},
            args=[{}],
            kwargs={},
            interval=30,
        )
        await source.add_schedule(cron)
        await source.add_schedule(every)
        before = {s.id: s for s in await inspector.schedules()}
        assert set(before) == {"daily", "often"}
        assert before["daily"].cron == "0 6 * * *"
        assert before["daily"].queue == "low"
        assert before["daily"].next_run is not None
        assert before["daily"].next_run.hour == 6
        assert before["daily"].last_job_id is None
        assert before["often"].interval == 30
        assert before["often"].next_run is not None

        scheduler = TaskiqScheduler(broker, [source])
        (stored,) = [t for t in await source.get_schedules() if t.schedule_id == "daily"]
        await scheduler.on_ready(source, stored)
        assert stored.task_id is None  # the id was the tick's only
        after = {s.id: s for s in await inspector.schedules()}
        job_id = after["daily"].last_job_id
        assert job_id is not None
        assert after["daily"].last_enqueued_at is not None
        detail = await inspector.job_detail(job_id, "low")
        assert detail is not None
        assert detail.labels["schedule_id"] == "daily"
        await source.delete_schedule("daily")
        assert [s.id for s in await inspector.schedules()] == ["often"]
    finally:
        await source.shutdown()
