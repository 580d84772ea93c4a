"""Delayed and scheduled jobs: never early, on time within a bound, and refused when ambiguous."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tests.helpers import job_fields

from jobqueue import (
    EnqueueOptions,
    InvalidOptionsError,
    JobQueue,
    JobRegistry,
    JobState,
    QueueSettings,
)
from jobqueue.redis import RedisJobBroker
from jobqueue.testing import run_worker


async def wait_until(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 5
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.005)


async def test_delayed_jobs_never_run_early_and_are_late_by_under_100ms(
    settings: QueueSettings,
) -> None:
    registry = JobRegistry()
    ran_at: dict[int, float] = {}

    @registry.job("delay:probe")
    async def probe(payload: dict[str, int]) -> None:
        ran_at[payload["i"]] = time.time()

    jobs = 50
    due: dict[int, float] = {}
    producer = RedisJobBroker(settings, registry=registry)
    worker = RedisJobBroker(settings, registry=registry)
    async with JobQueue(producer) as queue, run_worker(worker):
        # Spread the due times over 0.3-0.55 s; half by delay, half by an absolute time.
        for i in range(jobs):
            delay = 0.3 + 0.005 * i
            if i % 2:
                info = await queue.enqueue_with_delay("delay:probe", {"i": i}, delay)
            else:
                when = datetime.now(UTC) + timedelta(seconds=delay)
                info = await queue.enqueue_at("delay:probe", {"i": i}, when)
            assert info.state is JobState.SCHEDULED
            due[i] = info.process_at.timestamp()
        await wait_until(lambda: len(ran_at) == jobs, "the delayed jobs")

    lateness = sorted(ran_at[i] - due[i] for i in range(jobs))
    # Due times are kept in whole milliseconds, hence the 2 ms allowance for "not early".
    assert lateness[0] >= -0.002, f"a job ran {-lateness[0] * 1000:.1f} ms before its time"
    p99 = lateness[int(0.99 * (jobs - 1))]
    assert p99 < 0.100, f"p99 lateness {p99 * 1000:.1f} ms"


async def test_delayed_job_waits_in_scheduled_until_due(settings: QueueSettings) -> None:
    registry = JobRegistry()
    ran = asyncio.Event()

    @registry.job("delay:once")
    async def once(payload: dict[str, Any]) -> None:
        ran.set()

    producer = RedisJobBroker(settings, registry=registry)
    async with JobQueue(producer) as queue:
        keys, client = producer.keys["default"], producer.client
        async with run_worker(RedisJobBroker(settings, registry=registry)):
            start = time.monotonic()
            info = await queue.enqueue_with_delay("delay:once", {}, timedelta(seconds=0.3))
            assert info.state is JobState.SCHEDULED
            assert info.process_at > info.enqueued_at
            assert (await job_fields(producer, info.id))["state"] == "scheduled"
            score = await client.zscore(keys.scheduled, info.id)
            assert score == pytest.approx(info.process_at.timestamp() * 1000, abs=2)
            assert await client.llen(keys.pending) == 0

            await asyncio.sleep(0.2)
            assert not ran.is_set(), "ran before its delay"
            await asyncio.wait_for(ran.wait(), 2)
            assert time.monotonic() - start >= 0.3


async def test_enqueue_at_in_the_past_is_pending_at_once(settings: QueueSettings) -> None:
    producer = RedisJobBroker(settings)
    async with JobQueue(producer) as queue:
        past = datetime.now(UTC) - timedelta(minutes=5)
        info = await queue.enqueue_at("delay:past", {}, past)
        assert info.state is JobState.PENDING
        assert info.process_at == info.enqueued_at
        pending = producer.keys["default"].pending
        assert await producer.client.lrange(pending, 0, -1) == [info.id.encode()]


async def test_naive_datetime_is_refused_and_nothing_is_stored(settings: QueueSettings) -> None:
    producer = RedisJobBroker(settings)
    async with JobQueue(producer) as queue:
        naive = datetime.now() + timedelta(seconds=10)  # naive on purpose
        with pytest.raises(InvalidOptionsError, match="timezone-aware"):
            await queue.enqueue_at("delay:naive", {}, naive)
        keys, client = producer.keys["default"], producer.client
        assert await client.zcard(keys.scheduled) == 0
        assert await client.llen(keys.pending) == 0


def test_delay_and_process_at_together_are_refused() -> None:
    with pytest.raises(InvalidOptionsError, match="either delay or process_at"):
        EnqueueOptions(delay=5, process_at=datetime.now(UTC) + timedelta(seconds=5))


def test_negative_delay_is_refused() -> None:
    with pytest.raises(InvalidOptionsError, match="negative"):
        EnqueueOptions(delay=-1)
