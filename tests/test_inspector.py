"""Monitoring: counts per state, job records, delete (releases the unique lock), run now, pause."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from jobqueue import (
    DuplicateJobError,
    EnqueueOptions,
    JobQueue,
    JobQueueError,
    JobRegistry,
    JobState,
    PermanentError,
    QueueSettings,
)
from jobqueue.redis import RedisJobBroker
from jobqueue.redis.inspector import Inspector
from jobqueue.testing import run_worker


def _registry(runs: list[int]) -> JobRegistry:
    registry = JobRegistry()

    @registry.job("flaky", max_retry=0)
    async def flaky(payload: dict[str, int]) -> None:
        runs.append(payload["n"])
        if len(runs) == 1:
            raise PermanentError("first run fails")

    return registry


async def test_stats_records_and_actions(settings: QueueSettings) -> None:
    runs: list[int] = []
    async with JobQueue(RedisJobBroker(settings, registry=_registry(runs))) as queue:
        broker = queue.broker
        assert isinstance(broker, RedisJobBroker)
        inspector = Inspector(broker)
        await queue.enqueue("flaky", {"n": 1})
        await queue.enqueue_with_delay("flaky", {"n": 2}, 3600)
        unique = EnqueueOptions(queue="low", unique=True, unique_ttl=3600)
        held = await queue.enqueue_with_options("flaky", {"n": 3}, unique)

        stats = {s.queue: s for s in await inspector.stats()}
        assert (stats["default"].pending, stats["default"].scheduled) == (1, 1)
        assert stats["low"].pending == 1
        assert set(await inspector.queues()) == {"critical", "default", "low"}

        # Pausing "low" keeps its job waiting while "default" runs (and fails for good).
        await inspector.pause("low")
        async with run_worker(RedisJobBroker(settings, registry=_registry(runs))):
            for _ in range(200):
                if (await inspector.stats())[1].dead == 1:
                    break
                await asyncio.sleep(0.01)
            (dead,) = await inspector.jobs("default", JobState.DEAD)
            assert dead.error is not None
            assert "first run fails" in dead.error
            assert dead.payload == {"n": 1}
            assert dead.state is JobState.DEAD
            assert (await inspector.job(held.id)) is not None
            assert runs == [1]

            # Run the dead job again: this time it succeeds.
            assert await inspector.run_now(dead.id, "default")
            for _ in range(200):
                if runs == [1, 1] and await inspector.job(dead.id) is None:
                    break
                await asyncio.sleep(0.01)
            assert runs == [1, 1]
            assert await inspector.job(dead.id) is None  # completed and deleted

        # Deleting the unique job releases its lock: the same job can be enqueued again.
        with pytest.raises(DuplicateJobError):
            await queue.enqueue_with_options("flaky", {"n": 3}, unique)
        assert await inspector.delete(held.id, "low")
        assert not await inspector.delete(held.id, "low")
        await queue.enqueue_with_options("flaky", {"n": 3}, unique)
        await inspector.resume("low")
        assert not (await inspector.stats())[2].paused


async def test_active_job_cannot_be_deleted(settings: QueueSettings) -> None:
    async with JobQueue(RedisJobBroker(settings)) as queue:
        info = await queue.enqueue("any", {})
        broker = queue.broker
        assert isinstance(broker, RedisJobBroker)
        (delivery,) = await broker.fetch(1)
        assert delivery.id == info.id
        with pytest.raises(JobQueueError, match="running"):
            await Inspector(broker).delete(info.id, "default")


def test_cli_stats(settings: QueueSettings, jobqueue_redis_url: str) -> None:
    env = {"QUEUE_URL": jobqueue_redis_url, "QUEUE_KEY_PREFIX": settings.key_prefix, "PATH": ""}
    done = subprocess.run(
        [sys.executable, "-m", "jobqueue", "stats"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert done.stdout.splitlines()[0].split()[:3] == ["queue", "pending", "scheduled"]
    assert [line.split()[0] for line in done.stdout.splitlines()[1:]] == [
        "critical",
        "default",
        "low",
    ]
