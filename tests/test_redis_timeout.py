"""Timeouts of an attempt, and the lease heartbeat that keeps a long job with its worker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from taskiq.receiver import Receiver
from tests.helpers import job_fields

from jobqueue import EnqueueOptions, JobQueue, JobRegistry, QueueSettings, fixed_schedule
from jobqueue.redis import RedisJobBroker
from jobqueue.testing import run_worker


async def wait_for(check: Callable[[], Awaitable[bool]], what: str, seconds: float = 5) -> None:
    """Poll `check` (Redis state has no event to wait on) until true; fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


async def read_job(broker: RedisJobBroker, job_id: str) -> dict[str, str]:
    return await job_fields(broker, job_id)


def sleeper_registry(starts: list[float], ends: list[float], **job_defaults: Any) -> JobRegistry:
    registry = JobRegistry()

    @registry.job("timeout:sleep", retry_delay=fixed_schedule(0.05), **job_defaults)
    async def sleep(payload: dict[str, float]) -> None:
        starts.append(time.monotonic())
        await asyncio.sleep(payload["seconds"])
        ends.append(time.monotonic())

    return registry


async def test_attempt_over_its_timeout_fails_and_is_retried(
    settings: QueueSettings, receiver_class: type[Receiver]
) -> None:
    starts: list[float] = []
    ends: list[float] = []
    registry = sleeper_registry(starts, ends)
    producer = RedisJobBroker(settings, registry=registry)
    async with JobQueue(producer) as queue:
        async with run_worker(
            RedisJobBroker(settings, registry=registry), receiver_class=receiver_class
        ):
            info = await queue.enqueue_with_options(
                "timeout:sleep", {"seconds": 1.0}, EnqueueOptions(timeout=0.2, max_retry=1)
            )

            async def dead() -> bool:
                return (await read_job(producer, info.id)).get("state") == "dead"

            await wait_for(dead, "both attempts to time out")

        job = await read_job(producer, info.id)
        stats = await producer.client.hgetall(producer.keys["default"].stats)
    assert ends == [], "an attempt ran to the end of its sleep despite the timeout"
    assert len(starts) == 2  # the timeout went down the retry path: one retry, then dead
    # Each attempt was cut at about 0.2 s, not at the 1 s the job wanted to sleep.
    assert starts[1] - starts[0] < 0.2 + 0.05 + 0.15
    assert job["retried"] == "1"
    assert "TimeoutError" in job["error"]
    assert "0.2" in job["error"]
    assert job["error"].startswith("retries exhausted after 2 attempts")
    assert stats == {b"failed": b"2", b"dead": b"1"}


async def test_timeout_of_the_job_type_applies(
    settings: QueueSettings, receiver_class: type[Receiver]
) -> None:
    starts: list[float] = []
    ends: list[float] = []
    registry = sleeper_registry(starts, ends, timeout=0.2, max_retry=0)
    # The producer does not know the job type, so the timeout is not in the message: the worker
    # applies the job type's default itself.
    producer = RedisJobBroker(settings)
    async with JobQueue(producer) as queue:
        async with run_worker(
            RedisJobBroker(settings, registry=registry), receiver_class=receiver_class
        ):
            info = await queue.enqueue("timeout:sleep", {"seconds": 1.0})
            began = time.monotonic()

            async def dead() -> bool:
                return (await read_job(producer, info.id)).get("state") == "dead"

            await wait_for(dead, "the attempt to time out")
            took = time.monotonic() - began
        job = await read_job(producer, info.id)
    assert ends == []
    assert len(starts) == 1
    assert took < 0.2 + 0.3
    assert "TimeoutError" in job["error"]


async def test_timeout_of_the_job_type_is_sent_by_a_producer_that_knows_it(
    settings: QueueSettings, receiver_class: type[Receiver]
) -> None:
    starts: list[float] = []
    ends: list[float] = []
    registry = sleeper_registry(starts, ends, timeout=0.2, max_retry=0)
    producer = RedisJobBroker(settings, registry=registry)
    async with JobQueue(producer) as queue:
        info = await queue.enqueue("timeout:sleep", {"seconds": 1.0})
        assert info.timeout == 0.2
        # A worker without that default must still cut the attempt: the timeout is in the message.
        worker_registry = sleeper_registry(starts, ends, max_retry=0)
        async with run_worker(
            RedisJobBroker(settings, registry=worker_registry), receiver_class=receiver_class
        ):

            async def dead() -> bool:
                return (await read_job(producer, info.id)).get("state") == "dead"

            await wait_for(dead, "the attempt to time out")
        job = await read_job(producer, info.id)
    assert ends == []
    assert "TimeoutError" in job["error"]


async def test_job_longer_than_its_lease_stays_with_its_worker(
    settings: QueueSettings, receiver_class: type[Receiver]
) -> None:
    # lease 1 s, job 2.5 s, timeout 10 s: without the heartbeat the lease would expire after
    # 1 s, the recoverer (every 0.2 s) would put the job back, and the idle worker would run it.
    starts: list[float] = []
    ends: list[float] = []
    registry = sleeper_registry(starts, ends)
    producer = RedisJobBroker(settings, registry=registry)
    lease = producer.keys["default"].lease
    async with JobQueue(producer) as queue:
        async with (
            run_worker(RedisJobBroker(settings, registry=registry), receiver_class=receiver_class),
            run_worker(RedisJobBroker(settings, registry=registry), receiver_class=receiver_class),
        ):
            info = await queue.enqueue_with_options(
                "timeout:sleep", {"seconds": 2.5}, EnqueueOptions(timeout=10)
            )

            async def started() -> bool:
                return len(starts) == 1

            await wait_for(started, "the job to start")
            first_expiry = await producer.client.zscore(lease, info.id)
            await asyncio.sleep(1.5)  # past the first lease
            assert await producer.client.zscore(lease, info.id) > first_expiry  # renewed

            async def finished() -> bool:
                return not await producer.client.exists(producer.keys["default"].job(info.id))

            await wait_for(finished, "the job to complete")
            await asyncio.sleep(0.3)  # a second (wrong) execution would have started by now
        stats = await producer.client.hgetall(producer.keys["default"].stats)
    assert len(starts) == 1, f"the job ran {len(starts)} times"
    assert len(ends) == 1
    assert stats == {b"processed": b"1"}
