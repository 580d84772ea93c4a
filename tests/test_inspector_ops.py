"""The inspector on a real Redis: queues, history, pages of jobs, one job in full, bulk actions,
deleting a queue, and jobs of the previous layout in all of them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr
from tests.test_legacy_layout import legacy_enqueue

from jobqueue import (
    EnqueueOptions,
    JobQueue,
    JobQueueError,
    JobRegistry,
    JobState,
    PermanentError,
    QueueSettings,
)
from jobqueue.redis import RedisJobBroker
from jobqueue.redis.inspector import Inspector, as_json
from jobqueue.testing import RedisServer, run_worker


def failing_registry() -> JobRegistry:
    registry = JobRegistry()

    @registry.job("import:row", max_retry=0)
    async def import_row(payload: dict[str, int]) -> None:
        raise PermanentError(f"row {payload['row']} has no id")

    @registry.job("mail:send", max_retry=0)
    async def send(payload: dict[str, int]) -> None:
        raise ConnectionError(f"smtp host 'mx{payload['row']}.example' refused")

    return registry


async def until(check: Callable[[], Awaitable[bool]], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


@pytest.fixture
async def queue(settings: QueueSettings) -> AsyncIterator[JobQueue]:
    async with JobQueue(RedisJobBroker(settings, registry=failing_registry())) as q:
        yield q


def inspector_of(queue: JobQueue) -> Inspector:
    assert isinstance(queue.broker, RedisJobBroker)
    return Inspector(queue.broker)


async def make_dead(queue: JobQueue, settings: QueueSettings, rows: int, kind: str) -> None:
    inspector = inspector_of(queue)
    before = (await inspector.queue_info(["default"], memory=False))[0].dead
    await queue.enqueue_many((kind, {"row": n}) for n in range(rows))
    async with run_worker(RedisJobBroker(settings, registry=failing_registry())):

        async def buried() -> bool:
            return (await inspector.queue_info(["default"], memory=False))[0].dead == before + rows

        await until(buried)


async def test_queue_info_counts_latency_memory_and_today(
    queue: JobQueue, settings: QueueSettings
) -> None:
    inspector = inspector_of(queue)
    await make_dead(queue, settings, 3, "import:row")
    await queue.enqueue("import:row", {"row": 9})
    await queue.enqueue_with_delay("import:row", {"row": 10}, 3600)
    await inspector.pause("low")
    await asyncio.sleep(0.05)
    infos = {i.queue: i for i in await inspector.queue_info()}
    default = infos["default"]
    assert (default.pending, default.scheduled, default.dead, default.size) == (1, 1, 3, 5)
    assert default.latency >= 0.04
    assert default.memory_bytes is not None
    assert default.memory_bytes > 500
    assert (default.failed_total, default.dead_total, default.failed_today) == (3, 3, 3)
    assert default.error_groups == 1
    assert infos["low"].paused
    assert infos["low"].latency == 0
    assert infos["critical"].memory_bytes is not None
    assert (await inspector.queue_info(["low"], memory=False))[0].memory_bytes is None
    assert as_json(default)["queue"] == "default"


async def test_history_counts_each_day_and_expires(
    queue: JobQueue, settings: QueueSettings
) -> None:
    inspector = inspector_of(queue)
    await make_dead(queue, settings, 2, "import:row")
    registry = JobRegistry()

    @registry.job("ok")
    async def ok(payload: dict[str, int]) -> None:
        pass

    producer = RedisJobBroker(settings, registry=registry)
    async with JobQueue(producer) as good:
        await good.enqueue_many(("ok", {"n": n}) for n in range(4))
        async with run_worker(RedisJobBroker(settings, registry=registry)):

            async def done() -> bool:
                return (await inspector.queue_info(["default"], memory=False))[
                    0
                ].processed_today == 4

            await until(done)
    days = await inspector.history("default", days=3)
    assert len(days) == 3
    assert days[-1].day == datetime.now(UTC).date()
    assert (days[-1].processed, days[-1].failed, days[-1].dead) == (4, 2, 2)
    assert (days[0].processed, days[0].failed) == (0, 0)
    today = int(time.time()) // 86400
    ttl = await inspector.broker.client.ttl(inspector.broker.keys["default"].history(today))
    assert 89 * 86400 < ttl <= 90 * 86400
    with pytest.raises(JobQueueError):
        await inspector.history("default", days=91)


async def test_pages_filters_and_order(queue: JobQueue, settings: QueueSettings) -> None:
    inspector = inspector_of(queue)
    infos = await queue.enqueue_many(("import:row", {"row": n}) for n in range(7))
    ids = [i.id for i in infos if not isinstance(i, JobQueueError)]
    first = await inspector.list_jobs("default", "pending", limit=3)
    assert [j.id for j in first.jobs] == ids[:3]
    assert (first.total, first.offset, first.next_offset) == (7, 0, 3)
    last = await inspector.list_jobs("default", "pending", offset=6, limit=3)
    assert [j.id for j in last.jobs] == ids[6:]
    assert last.next_offset is None
    newest = await inspector.list_jobs("default", "pending", limit=2, newest_first=True)
    assert [j.id for j in newest.jobs] == [ids[6], ids[5]]

    async with run_worker(RedisJobBroker(settings, registry=failing_registry())):
        await until(lambda: _count(inspector, "dead", 7))
    await queue.enqueue_many(("mail:send", {"row": n}) for n in range(3))
    async with run_worker(RedisJobBroker(settings, registry=failing_registry())):
        await until(lambda: _count(inspector, "dead", 10))
    mail = await inspector.list_jobs("default", "dead", job_type="mail:send")
    assert len(mail.jobs) == 3
    assert {j.job_type for j in mail.jobs} == {"mail:send"}
    assert mail.total == 10
    row3 = await inspector.list_jobs("default", "dead", error="ROW 3 HAS")
    assert [j.payload for j in row3.jobs] == [{"row": 3}]
    paged = await inspector.list_jobs("default", "dead", job_type="import:row", limit=4)
    rest = await inspector.list_jobs(
        "default", "dead", job_type="import:row", limit=4, offset=paged.next_offset or 0
    )
    assert len(paged.jobs) + len(rest.jobs) == 7
    assert not {j.id for j in paged.jobs} & {j.id for j in rest.jobs}
    with pytest.raises(JobQueueError):
        await inspector.list_jobs("default", "dead", limit=0)


async def _count(inspector: Inspector, state: str, n: int) -> bool:
    info = (await inspector.queue_info(["default"], memory=False))[0]
    return bool(getattr(info, state) == n)


async def test_job_detail_shows_everything(settings: QueueSettings) -> None:
    settings = settings.model_copy(update={"completed_retention": 60})
    registry = failing_registry()

    @registry.job("ok")
    async def ok(payload: dict[str, int]) -> None:
        pass

    async with JobQueue(RedisJobBroker(settings, registry=registry)) as queue:
        inspector = inspector_of(queue)
        unique = EnqueueOptions(unique=True, unique_ttl=600, timeout=5, max_retry=0)
        dead = await queue.enqueue_with_options("mail:send", {"row": 1}, unique)
        done = await queue.enqueue("ok", {"n": 1})
        async with run_worker(RedisJobBroker(settings, registry=registry)):
            await until(lambda: _count(inspector, "dead", 1))
            await until(lambda: _count(inspector, "completed", 1))
        detail = await inspector.job_detail(dead.id)
        assert detail is not None
        assert detail.job.state is JobState.DEAD
        assert detail.job.payload == {"row": 1}
        assert detail.job.timeout == 5
        assert detail.unique_digest
        assert detail.attempts == 1
        assert detail.error_group
        assert detail.job.error is not None
        assert "refused" in detail.job.error
        assert detail.job.traceback is not None
        assert "ConnectionError" in detail.job.traceback
        assert not detail.legacy
        completed = await inspector.job_detail(done.id, "default")
        assert completed is not None
        assert completed.job.state is JobState.COMPLETED
        assert completed.completed_at is not None
        assert completed.error_group is None
        assert await inspector.job_detail("nope") is None


async def test_bulk_actions(queue: JobQueue, settings: QueueSettings) -> None:
    inspector = inspector_of(queue)
    await make_dead(queue, settings, 5, "import:row")
    await make_dead(queue, settings, 2, "mail:send")
    dead = (await inspector.list_jobs("default", "dead", limit=100)).jobs
    rows = [j.id for j in dead if j.job_type == "import:row"]
    result = await inspector.act("run", "default", ids=rows[:2])
    assert (result.done, result.examined) == (2, 2)
    assert await _count(inspector, "pending", 2)
    assert (await inspector.job_detail(rows[0]) or pytest.fail("no such job")).job.retried == 0
    filtered = await inspector.kill_all("default", "pending", job_type="import:row")
    assert filtered.done == 2
    seen: list[tuple[int, int]] = []
    deleted = await inspector.delete_all(
        "default", "dead", error="smtp", progress=lambda d, t: seen.append((d, t))
    )
    assert deleted.done == 2
    assert seen[-1] == (7, 7)
    run = await inspector.run_all("default", JobState.DEAD)
    assert run.done == 5
    assert await _count(inspector, "pending", 5)
    assert (await inspector.error_groups("default")) == []
    with pytest.raises(JobQueueError, match="takes jobs from"):
        await inspector.run_all("default", "pending")
    with pytest.raises(JobQueueError, match="exactly one"):
        await inspector.act("delete", "default", ids=["x"], state="dead")
    killed = await inspector.kill(rows[0], "default")
    assert killed
    record = await inspector.job(rows[0])
    assert record is not None
    assert record.state is JobState.DEAD
    assert record.error is not None
    assert "no id" in record.error  # its last error is kept


async def test_bulk_actions_leave_running_jobs_and_release_locks(
    queue: JobQueue, settings: QueueSettings
) -> None:
    inspector = inspector_of(queue)
    unique = EnqueueOptions(unique=True, unique_ttl=600)
    infos = [await queue.enqueue_with_options("import:row", {"row": n}, unique) for n in range(3)]
    broker = inspector.broker
    (held,) = await broker.fetch(1)
    result = await inspector.act("delete", "default", ids=[i.id for i in infos])
    assert (result.done, result.running) == (2, 1)
    assert (await inspector.job(held.id)) is not None
    row = next(n for n, info in enumerate(infos) if info.id != held.id)
    await queue.enqueue_with_options("import:row", {"row": row}, unique)  # its lock was released
    pending = await inspector.delete_all("default", "pending")
    assert pending.done >= 1


async def test_delete_queue(queue: JobQueue, settings: QueueSettings) -> None:
    inspector = inspector_of(queue)
    await make_dead(queue, settings, 2, "import:row")
    await queue.enqueue_with_options(
        "import:row", {"row": 1}, EnqueueOptions(unique=True, unique_ttl=600)
    )
    await queue.enqueue_with_delay("import:row", {"row": 2}, 60)
    with pytest.raises(JobQueueError, match="holds 4 jobs"):
        await inspector.delete_queue("default")
    assert await inspector.delete_queue("default", force=True) == 4
    keys = await inspector.broker.client.keys(inspector.broker.keys["default"].base + "*")
    assert keys == []
    assert "default" not in await inspector.queues()
    assert await inspector.delete_queue("low") == 0


async def test_jobs_of_the_previous_layout(settings: QueueSettings) -> None:
    producer = RedisJobBroker(settings)
    async with JobQueue(producer):
        await legacy_enqueue(
            producer,
            ("old-1", "legacy:work", {"n": 1}, {}),
            ("old-2", "legacy:work", {"n": 2}, {"delay_ms": 60_000}),
        )
        inspector = Inspector(producer)
        page = await inspector.list_jobs("default", "pending", job_type="legacy:work")
        assert [j.id for j in page.jobs] == ["old-1"]
        detail = await inspector.job_detail("old-2")
        assert detail is not None
        assert detail.legacy
        assert detail.job.state is JobState.SCHEDULED
        assert detail.job.payload == {"n": 2}
        assert detail.job.enqueued_at is not None
        info = (await inspector.queue_info(["default"]))[0]
        assert (info.pending, info.scheduled) == (1, 1)
        assert info.latency >= 0
        killed = await inspector.kill_all("default", "pending")
        assert killed.done == 1
        assert (await inspector.job("old-1") or pytest.fail("no such job")).state is JobState.DEAD
        assert (await inspector.delete_all("default", "scheduled")).done == 1
        assert await inspector.job("old-2") is None


async def test_reads_after_a_redis_restart() -> None:
    """Pooled connections left idle across a restart fail once: reads go on regardless."""
    with RedisServer(appendonly=True) as server:
        settings = QueueSettings(url=SecretStr(server.url), key_prefix="restart")
        async with JobQueue(RedisJobBroker(settings)) as queue:
            inspector = inspector_of(queue)
            await queue.enqueue("any", {})
            reads = [
                lambda: inspector.jobs("default", "pending"),
                lambda: inspector.list_jobs("default", "pending"),
                lambda: inspector.job_detail("nope"),
                lambda: inspector.history("default"),
                inspector.workers,
                inspector.schedules,
                inspector.queues,
                lambda: inspector.queue_info(),
            ]
            for read in reads:
                await read()
            server.kill()
            server.restart()
            for read in reads:
                await read()
            assert len(await inspector.jobs("default", "pending")) == 1
