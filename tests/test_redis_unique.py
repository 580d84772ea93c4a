"""Unique jobs: one job per type and payload while the lock lives, under concurrent enqueues too."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from tests.helpers import job_fields

from jobqueue import (
    DuplicateJobError,
    EnqueueOptions,
    InvalidOptionsError,
    JobInfo,
    JobQueue,
    JobRegistry,
    JobState,
    QueueSettings,
    fixed_schedule,
)
from jobqueue.redis import RedisJobBroker
from jobqueue.testing import run_worker

UNIQUE = EnqueueOptions(unique=True, unique_ttl=60)


async def wait_for(check: Callable[[], Awaitable[bool]], what: str, seconds: float = 5) -> None:
    """Poll `check` (Redis state has no event to wait on) until true; fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


@pytest.fixture
async def producer(settings: QueueSettings) -> AsyncIterator[RedisJobBroker]:
    broker = RedisJobBroker(settings)
    await broker.startup()
    yield broker
    await broker.shutdown()


@pytest.fixture
async def queue(producer: RedisJobBroker) -> AsyncIterator[JobQueue]:
    async with JobQueue(producer, owns_broker=False) as queue:
        yield queue


async def job_hashes(broker: RedisJobBroker) -> list[bytes]:
    """The ids of the jobs the queue stores."""
    return list(await broker.client.hkeys(broker.keys["default"].jobs))


async def test_concurrent_unique_enqueues_create_exactly_one_job(
    queue: JobQueue, producer: RedisJobBroker
) -> None:
    payload = {"user": 42, "kind": "welcome"}
    results = await asyncio.gather(
        *(queue.enqueue_with_options("unique:mail", payload, UNIQUE) for _ in range(100)),
        return_exceptions=True,
    )

    created = [r for r in results if isinstance(r, JobInfo)]
    refused = [r for r in results if isinstance(r, DuplicateJobError)]
    assert len(created) == 1
    assert len(refused) == 99
    assert {e.existing_id for e in refused} == {created[0].id}
    assert await producer.client.lrange(producer.keys["default"].pending, 0, -1) == [
        created[0].id.encode()
    ]
    assert len(await job_hashes(producer)) == 1


async def test_key_order_of_the_payload_does_not_matter(queue: JobQueue) -> None:
    first = await queue.enqueue_with_options("unique:sync", {"a": 1, "b": {"x": 1, "y": 2}}, UNIQUE)

    with pytest.raises(DuplicateJobError) as refused:
        await queue.enqueue_with_options("unique:sync", {"b": {"y": 2, "x": 1}, "a": 1}, UNIQUE)
    assert refused.value.existing_id == first.id

    # A different payload, or the same payload for another job type, is another job.
    await queue.enqueue_with_options("unique:sync", {"a": 1, "b": {"x": 1, "y": 3}}, UNIQUE)
    await queue.enqueue_with_options("unique:other", {"a": 1, "b": {"x": 1, "y": 2}}, UNIQUE)
    # Without unique=True the lock is not consulted at all.
    await queue.enqueue("unique:sync", {"a": 1, "b": {"x": 1, "y": 2}})


async def test_lock_holds_through_a_retry_and_is_released_after_success(
    settings: QueueSettings, queue: JobQueue, producer: RedisJobBroker
) -> None:
    registry = JobRegistry()
    runs: list[float] = []

    @registry.job("unique:flaky", max_retry=3, retry_delay=fixed_schedule(0.4))
    async def flaky(payload: dict[str, Any]) -> None:
        runs.append(time.monotonic())
        if len(runs) == 1:
            raise ConnectionError("first attempt fails")

    keys = producer.keys["default"]
    async with run_worker(RedisJobBroker(settings, registry=registry)):
        info = await queue.enqueue_with_options("unique:flaky", {"id": 7}, UNIQUE)

        async def in_retry() -> bool:
            return await producer.client.zscore(keys.retry, info.id) is not None

        await wait_for(in_retry, "the first attempt to fail")
        with pytest.raises(DuplicateJobError) as refused:
            await queue.enqueue_with_options("unique:flaky", {"id": 7}, UNIQUE)
        assert refused.value.existing_id == info.id

        async def completed() -> bool:
            return not await producer.client.exists(keys.job(info.id))

        await wait_for(completed, "the retry to succeed")
        assert len(runs) == 2
        # Success released the lock: the same job can be enqueued again, as a new job.
        again = await queue.enqueue_with_options("unique:flaky", {"id": 7}, UNIQUE)
        assert again.id != info.id


async def test_dead_job_keeps_its_lock(
    settings: QueueSettings, queue: JobQueue, producer: RedisJobBroker
) -> None:
    # Documented: a job moved to dead holds its lock until the TTL runs out.
    registry = JobRegistry()

    @registry.job("unique:doomed", max_retry=0)
    async def doomed(payload: dict[str, Any]) -> None:
        raise ValueError("never works")

    keys = producer.keys["default"]
    async with run_worker(RedisJobBroker(settings, registry=registry)):
        info = await queue.enqueue_with_options("unique:doomed", {"n": 1}, UNIQUE)

        async def dead() -> bool:
            return await producer.client.zscore(keys.dead, info.id) is not None

        await wait_for(dead, "the job to fail for good")
    with pytest.raises(DuplicateJobError) as refused:
        await queue.enqueue_with_options("unique:doomed", {"n": 1}, UNIQUE)
    assert refused.value.existing_id == info.id


async def test_lock_expires_after_its_ttl(queue: JobQueue, producer: RedisJobBroker) -> None:
    opts = EnqueueOptions(unique=True, unique_ttl=0.3)
    first = await queue.enqueue_with_options("unique:ttl", {"n": 1}, opts)
    with pytest.raises(DuplicateJobError):
        await queue.enqueue_with_options("unique:ttl", {"n": 1}, opts)
    (lock,) = await producer.client.keys(producer.keys["default"].unique_prefix + "*")
    assert await producer.client.get(lock) == first.id.encode()
    assert 0 < await producer.client.pttl(lock) <= 300

    await asyncio.sleep(0.35)
    second = await queue.enqueue_with_options("unique:ttl", {"n": 1}, opts)
    assert second.id != first.id


async def test_unique_without_any_ttl_is_refused(queue: JobQueue, producer: RedisJobBroker) -> None:
    with pytest.raises(InvalidOptionsError, match="unique_ttl"):
        await queue.enqueue_with_options("unique:no-ttl", {}, EnqueueOptions(unique=True))
    assert await job_hashes(producer) == []
    with pytest.raises(InvalidOptionsError):
        EnqueueOptions(unique_ttl=10)  # a TTL without unique=True is a mistake too


async def test_ttl_of_the_job_type_is_used(settings: QueueSettings) -> None:
    registry = JobRegistry()

    @registry.job("unique:typed", unique_ttl=60)
    async def typed(payload: dict[str, Any]) -> None:
        return None

    async with JobQueue(RedisJobBroker(settings, registry=registry)) as queue:
        first = await queue.enqueue_with_options(
            "unique:typed", {"n": 1}, EnqueueOptions(unique=True)
        )
        with pytest.raises(DuplicateJobError) as refused:
            await queue.enqueue_with_options("unique:typed", {"n": 1}, EnqueueOptions(unique=True))
        assert refused.value.existing_id == first.id


async def test_unique_delayed_jobs(queue: JobQueue, producer: RedisJobBroker) -> None:
    opts = EnqueueOptions(unique=True, unique_ttl=60, delay=30)
    first = await queue.enqueue_with_options("unique:later", {"n": 1}, opts)
    assert first.state is JobState.SCHEDULED

    # The scheduled job holds the lock against a delayed and an immediate duplicate alike.
    for again in (opts, UNIQUE):
        with pytest.raises(DuplicateJobError) as refused:
            await queue.enqueue_with_options("unique:later", {"n": 1}, again)
        assert refused.value.existing_id == first.id
    assert await producer.client.zcard(producer.keys["default"].scheduled) == 1


async def test_reused_job_id_is_a_duplicate(queue: JobQueue, producer: RedisJobBroker) -> None:
    first = await queue.enqueue_with_options(
        "unique:id", {"n": 1}, EnqueueOptions(job_id="order-17")
    )
    assert first.id == "order-17"

    # Even with another payload and job type: the id is taken.
    with pytest.raises(DuplicateJobError) as refused:
        await queue.enqueue_with_options("unique:id2", {"n": 2}, EnqueueOptions(job_id="order-17"))
    assert refused.value.existing_id == "order-17"
    stored = await job_fields(producer, "order-17")
    assert stored["type"] == "unique:id"  # the first job was not overwritten
    assert await producer.client.llen(producer.keys["default"].pending) == 1
