"""Enqueueing: batches, per-position duplicates, and input refused before anything is stored."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from jobqueue import (
    DuplicateJobError,
    EnqueueOptions,
    InvalidOptionsError,
    JobInfo,
    JobQueue,
    JobRegistry,
    JobState,
    PayloadError,
    QueueClosedError,
    QueueSettings,
    UnknownQueueError,
)
from jobqueue.redis import RedisJobBroker
from jobqueue.testing import run_worker


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


async def stored_jobs(broker: RedisJobBroker) -> int:
    """Job hashes and queued ids in every queue (0 means nothing was enqueued)."""
    count = 0
    for keys in broker.keys.values():
        count += await broker.client.llen(keys.pending)
        count += await broker.client.zcard(keys.scheduled)
        count += len([k async for k in broker.client.scan_iter(match=keys.job("*"))])
    return count


async def test_enqueue_many_enqueues_every_job_and_they_all_run(settings: QueueSettings) -> None:
    registry = JobRegistry()
    seen: list[int] = []

    @registry.job("many:count")
    async def count(payload: dict[str, int]) -> None:
        seen.append(payload["i"])

    producer = RedisJobBroker(settings, registry=registry)
    async with JobQueue(producer) as queue:
        later = EnqueueOptions(delay=0.2)
        infos = await queue.enqueue_many(
            [("many:count", {"i": i}) for i in range(150)]
            + [("many:count", {"i": i}, later) for i in range(150, 200)]
        )
        assert all(isinstance(info, JobInfo) for info in infos)
        assert len({info.id for info in infos}) == 200  # type: ignore[union-attr]
        assert [info.state for info in infos] == [JobState.PENDING] * 150 + [  # type: ignore[union-attr]
            JobState.SCHEDULED
        ] * 50
        assert await producer.client.llen(producer.keys["default"].pending) == 150

        async with run_worker(RedisJobBroker(settings, registry=registry)):
            deadline = time.monotonic() + 5
            while len(seen) < 200:
                assert time.monotonic() < deadline, f"only {len(seen)} of 200 jobs ran"
                await asyncio.sleep(0.01)
    assert sorted(seen) == list(range(200))


async def test_enqueue_many_reports_duplicates_per_position(queue: JobQueue) -> None:
    unique = EnqueueOptions(unique=True, unique_ttl=60)
    results = await queue.enqueue_many(
        [
            ("many:mail", {"to": "a"}, unique),
            ("many:mail", {"to": "b"}, unique),
            ("many:mail", {"to": "a"}, unique),  # duplicate of position 0
            ("many:plain", {"n": 1}),
            ("many:plain", {"n": 2}, EnqueueOptions(job_id="fixed")),
            ("many:plain", {"n": 3}, EnqueueOptions(job_id="fixed")),  # id taken at position 4
            ("many:mail", {"to": "b"}, unique),  # duplicate of position 1
        ]
    )

    kinds = [type(r).__name__ for r in results]
    assert kinds == [
        "JobInfo",
        "JobInfo",
        "DuplicateJobError",
        "JobInfo",
        "JobInfo",
        "DuplicateJobError",
        "DuplicateJobError",
    ]
    assert isinstance(results[2], DuplicateJobError)
    assert results[2].existing_id == results[0].id  # type: ignore[union-attr]
    assert results[5].existing_id == "fixed"  # type: ignore[union-attr]
    assert results[6].existing_id == results[1].id  # type: ignore[union-attr]


async def test_unserialisable_payload_names_the_field_and_nothing_is_enqueued(
    queue: JobQueue, producer: RedisJobBroker
) -> None:
    with pytest.raises(PayloadError) as refused:
        await queue.enqueue_many(
            [
                ("many:ok", {"n": 1}),
                ("many:ok", {"n": 2}),
                ("many:event", {"when": {1, 2}}),  # a set has no JSON form
            ]
        )
    assert refused.value.field == "payload.when"
    assert refused.value.job_type == "many:event"
    assert "payload.when" in str(refused.value)
    assert await stored_jobs(producer) == 0

    with pytest.raises(PayloadError) as nested:
        await queue.enqueue("many:event", {"user": {"tags": ["a", object()]}})
    assert nested.value.field == "payload.user.tags[1]"
    with pytest.raises(PayloadError, match="NaN"):
        await queue.enqueue("many:event", {"ratio": float("nan")})
    assert await stored_jobs(producer) == 0

    # What orjson writes natively is accepted, e.g. an aware datetime.
    info = await queue.enqueue("many:event", {"when": datetime(2030, 1, 1, tzinfo=UTC)})
    assert info.state is JobState.PENDING


async def test_unknown_queue_is_refused(queue: JobQueue, producer: RedisJobBroker) -> None:
    with pytest.raises(UnknownQueueError) as refused:
        await queue.enqueue_with_options("many:x", {}, EnqueueOptions(queue="nope"))
    assert isinstance(refused.value, InvalidOptionsError)
    assert refused.value.queue == "nope"
    assert set(refused.value.known) == {"critical", "default", "low"}

    with pytest.raises(UnknownQueueError):
        await queue.enqueue_many([("many:x", {}), ("many:x", {}, EnqueueOptions(queue="nope"))])
    assert await stored_jobs(producer) == 0


async def test_job_type_queue_default_is_used(settings: QueueSettings) -> None:
    registry = JobRegistry()

    @registry.job("many:urgent", queue="critical")
    async def urgent(payload: dict[str, Any]) -> None:
        return None

    producer = RedisJobBroker(settings, registry=registry)
    async with JobQueue(producer) as queue:
        info = await queue.enqueue("many:urgent", {})
        assert info.queue == "critical"
        other = await queue.enqueue_with_options("many:urgent", {}, EnqueueOptions(queue="low"))
        assert other.queue == "low"
        assert await producer.client.llen(producer.keys["critical"].pending) == 1
        assert await producer.client.llen(producer.keys["low"].pending) == 1


async def test_closed_queue_refuses_everything(settings: QueueSettings) -> None:
    queue = JobQueue(RedisJobBroker(settings))
    await queue.start()
    await queue.enqueue("many:x", {})
    await queue.close()
    await queue.close()  # idempotent

    with pytest.raises(QueueClosedError):
        await queue.enqueue("many:x", {})
    with pytest.raises(QueueClosedError):
        await queue.enqueue_many([("many:x", {})])
    with pytest.raises(QueueClosedError):
        await queue.enqueue_with_delay("many:x", {}, 1)
    with pytest.raises(QueueClosedError):
        await queue.start()
