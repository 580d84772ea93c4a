"""Retries: how many attempts, when they happen, and what a job failing for good leaves behind."""

from __future__ import annotations

import asyncio
import collections
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from taskiq.receiver import Receiver
from tests.helpers import job_fields

from jobqueue import (
    EnqueueOptions,
    JobQueue,
    JobRegistry,
    PermanentError,
    QueueSettings,
    fixed_schedule,
)
from jobqueue.redis import RedisJobBroker
from jobqueue.testing import run_worker

registry = JobRegistry()
# Start times (monotonic) of every attempt, by the payload's "key"; filled by the jobs below.
attempts: dict[str, list[float]] = collections.defaultdict(list)


@registry.job("retry:flaky", max_retry=3, retry_delay=fixed_schedule(0.1, 0.2))
async def flaky(payload: dict[str, Any]) -> None:
    """Fail the first `fail` attempts, then succeed."""
    runs = attempts[payload["key"]]
    runs.append(time.monotonic())
    if len(runs) <= payload["fail"]:
        raise ConnectionError(f"flaky failure {len(runs)}")


@registry.job("retry:always", max_retry=2, retry_delay=fixed_schedule(0.05))
async def always(payload: dict[str, Any]) -> None:
    attempts[payload["key"]].append(time.monotonic())
    raise ValueError(f"boom {payload['key']}")


@registry.job("retry:permanent", max_retry=5, retry_delay=fixed_schedule(0.05))
async def permanent(payload: dict[str, Any]) -> None:
    attempts[payload["key"]].append(time.monotonic())
    raise PermanentError("the input can never work")


@registry.job("retry:five", max_retry=5, retry_delay=fixed_schedule(0.02))
async def five(payload: dict[str, Any]) -> None:
    attempts[payload["key"]].append(time.monotonic())
    raise ValueError("always")


@registry.job("retry:none", max_retry=0, retry_delay=fixed_schedule(0.02))
async def none(payload: dict[str, Any]) -> None:
    attempts[payload["key"]].append(time.monotonic())
    raise ValueError("always")


@registry.job("retry:unset", retry_delay=fixed_schedule(0.02))
async def unset(payload: dict[str, Any]) -> None:
    attempts[payload["key"]].append(time.monotonic())
    raise ValueError("always")


class Harness:
    """A producer and a running worker on the same settings, with Redis helpers."""

    def __init__(self, producer: RedisJobBroker, queue: JobQueue) -> None:
        self.producer = producer
        self.queue = queue
        self.keys = producer.keys["default"]

    async def job(self, job_id: str) -> dict[str, str]:
        return await job_fields(self.producer, job_id)

    async def stats(self) -> dict[str, int]:
        raw = await self.producer.client.hgetall(self.keys.stats)
        return {k.decode(): int(v) for k, v in raw.items()}

    async def gone(self, job_id: str) -> bool:
        """Whether the job is forgotten (a completed job is not kept by default)."""
        return not await self.job(job_id)

    async def wait(self, check: Callable[[], Awaitable[bool]], what: str) -> None:
        deadline = time.monotonic() + 5
        while not await check():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            await asyncio.sleep(0.01)

    async def wait_dead(self, job_id: str) -> dict[str, str]:
        async def dead() -> bool:
            return (await self.job(job_id)).get("state") == "dead"

        await self.wait(dead, f"job {job_id} in dead")
        return await self.job(job_id)


@pytest.fixture
async def harness(
    settings: QueueSettings, receiver_class: type[Receiver]
) -> AsyncIterator[Harness]:
    attempts.clear()
    settings = settings.model_copy(update={"default_max_retry": 1})
    producer = RedisJobBroker(settings, registry=registry)
    worker = RedisJobBroker(settings, registry=registry)
    async with JobQueue(producer) as queue, run_worker(worker, receiver_class=receiver_class):
        yield Harness(producer, queue)


async def test_failing_n_times_runs_n_plus_one_times_on_schedule(harness: Harness) -> None:
    info = await harness.queue.enqueue("retry:flaky", {"key": "k", "fail": 3})

    await harness.wait(lambda: harness.gone(info.id), "the job to complete")
    await asyncio.sleep(0.3)  # long enough for a (wrong) extra attempt to show up
    runs = attempts["k"]
    assert len(runs) == 4
    gaps = [b - a for a, b in itertools.pairwise(runs)]
    # fixed_schedule(0.1, 0.2): 0.1 s before the first retry, then 0.2 s (the last one repeats).
    for gap, expected in zip(gaps, [0.1, 0.2, 0.2], strict=True):
        assert expected - 0.005 <= gap <= expected + 0.1, f"gaps {gaps}"
    assert await harness.stats() == {"processed": 1, "failed": 3}


async def test_retries_exhausted_moves_job_to_dead_with_its_error(harness: Harness) -> None:
    info = await harness.queue.enqueue("retry:always", {"key": "d"})

    job = await harness.wait_dead(info.id)

    assert len(attempts["d"]) == 3  # the first attempt and max_retry=2 retries
    assert await harness.producer.client.zscore(harness.keys.dead, info.id) is not None
    assert job["error"] == "retries exhausted after 3 attempts: ValueError: boom d"
    assert "Traceback (most recent call last)" in job["traceback"]
    assert "raise ValueError" in job["traceback"]
    assert job["retried"] == "2"
    assert job["type"] == "retry:always"
    assert await harness.producer.client.zcard(harness.keys.lease) == 0
    assert await harness.producer.client.zcard(harness.keys.retry) == 0
    assert await harness.stats() == {"failed": 3, "dead": 1}


async def test_permanent_error_goes_to_dead_after_one_attempt(harness: Harness) -> None:
    info = await harness.queue.enqueue("retry:permanent", {"key": "p"})

    job = await harness.wait_dead(info.id)
    await asyncio.sleep(0.15)  # a retry (0.05 s) would have run by now

    assert len(attempts["p"]) == 1
    assert job["error"] == "permanent: PermanentError: the input can never work"
    assert job["retried"] == "0"
    assert "PermanentError" in job["traceback"]


@pytest.mark.parametrize(
    ("job_type", "max_retry", "expected_attempts"),
    [
        ("retry:five", 1, 2),  # the enqueue option lowers the job type's 5
        ("retry:none", 2, 3),  # ... or raises the job type's 0
        ("retry:none", None, 1),  # the job type's default applies
        ("retry:unset", None, 2),  # neither: the setting default_max_retry=1
    ],
)
async def test_max_retry_of_the_enqueue_overrides_the_job_type(
    harness: Harness, job_type: str, max_retry: int | None, expected_attempts: int
) -> None:
    info = await harness.queue.enqueue_with_options(
        job_type, {"key": "m"}, EnqueueOptions(max_retry=max_retry)
    )

    job = await harness.wait_dead(info.id)
    await asyncio.sleep(0.1)  # room for a (wrong) extra attempt

    assert len(attempts["m"]) == expected_attempts
    assert job["retried"] == str(expected_attempts - 1)
    noun = "attempt" if expected_attempts == 1 else "attempts"
    assert job["error"].startswith(f"retries exhausted after {expected_attempts} {noun}:")
