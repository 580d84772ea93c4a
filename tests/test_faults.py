"""Faults injected into real Redis servers: late acknowledgements, two deliveries of one job in
one worker, a Redis restart under a running worker, a producer facing an outage.

The process-level faults (SIGKILL storms, CLIENT PAUSE, stalls, poison) are in the chaos suite
(`python -m chaos`); these are the ones small enough to run in every test session.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from pydantic import SecretStr
from redis.asyncio import Redis
from tests.helpers import job_fields

from jobqueue import (
    DuplicateJobError,
    EnqueueOptions,
    JobQueue,
    JobRegistry,
    QueueSettings,
    QueueUnavailableError,
)
from jobqueue._attempt import Outcome, OutcomeKind
from jobqueue.redis import RedisJobBroker
from jobqueue.testing import RedisServer, run_worker


async def wait_for(check: Callable[[], Awaitable[bool]], what: str, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


@pytest.fixture
async def pair(settings: QueueSettings) -> AsyncIterator[tuple[RedisJobBroker, JobQueue]]:
    """A worker-side broker (fetching by hand) and a producer, with 0.2 s leases."""
    settings = settings.model_copy(update={"lease_timeout": 0.2})
    registry = JobRegistry()
    for name in ("late:job", "twice:job"):
        registry.job(name)(_nothing)
    worker = RedisJobBroker(settings, registry=registry)
    async with JobQueue(RedisJobBroker(settings)) as queue:
        await worker.startup()
        try:
            yield worker, queue
        finally:
            await worker.shutdown()


async def _nothing(payload: Any) -> None:
    return None


async def expire_and_recover(broker: RedisJobBroker) -> None:
    await asyncio.sleep(0.25)  # no heartbeat: the lease runs out
    await broker.worker_loops().recover_once()


@pytest.mark.parametrize(
    "outcome",
    [
        Outcome(OutcomeKind.COMPLETE),
        Outcome(OutcomeKind.RETRY, delay=0, error="late"),
        Outcome(OutcomeKind.DEAD, error="late"),
        Outcome(OutcomeKind.REQUEUE, counts_as_failure=False),
    ],
    ids=lambda o: o.kind,
)
async def test_a_late_acknowledgement_after_recovery_changes_nothing(
    pair: tuple[RedisJobBroker, JobQueue], outcome: Outcome
) -> None:
    # The job is back in pending and nobody fetched it again: the token still matches, but
    # the job is no longer leased, so the stalled worker's word must not count.
    worker, queue = pair
    info = await queue.enqueue("late:job", {"n": 1})
    (stale,) = await worker.fetch(1)
    await expire_and_recover(worker)
    calls = worker.calls
    call = {
        OutcomeKind.COMPLETE: lambda: calls.complete(stale.queue, calls.completion(stale)),
        OutcomeKind.RETRY: lambda: calls.retry(stale, outcome),
        OutcomeKind.DEAD: lambda: calls.kill(stale, outcome),
        OutcomeKind.REQUEUE: lambda: calls.requeue(stale.queue, stale.key),
    }[outcome.kind]()
    reply = await worker.scripts.call(*call)
    assert reply in (0, [1])  # refused (complete names the refused pair)

    keys = worker.keys["default"]
    client = worker.client
    assert await client.lrange(keys.pending, 0, -1) == [info.id.encode()]
    for zset in (keys.lease, keys.retry, keys.dead, keys.completed):
        assert await client.zcard(zset) == 0
    assert (await job_fields(worker, info.id))["state"] == "pending"
    if outcome.kind is not OutcomeKind.REQUEUE:
        assert await client.hget(keys.stats, "stale") == b"1"

    # The job still runs, once, on a fresh delivery.
    (fresh,) = await worker.fetch(1)
    assert (fresh.id, fresh.token) == (info.id, str(int(stale.token) + 1))
    assert await worker.scripts.call(*calls.complete(fresh.queue, calls.completion(fresh))) == []
    assert not await job_fields(worker, info.id)


async def test_a_worker_holding_two_deliveries_of_a_job_keeps_them_apart(
    pair: tuple[RedisJobBroker, JobQueue], caplog: pytest.LogCaptureFixture
) -> None:
    worker, queue = pair
    info = await queue.enqueue("twice:job", {"n": 1})
    (first,) = await worker.fetch(1)
    await expire_and_recover(worker)
    (second,) = await worker.fetch(1)
    assert first.id == second.id == info.id
    assert first.token != second.token
    assert worker.attempts.find(info.id, first.token) is first
    assert worker.attempts.find(info.id, second.token) is second

    # The heartbeat keeps the second delivery's lease and gives the first up as lost.
    with caplog.at_level(logging.WARNING, logger="jobqueue"):
        await worker.worker_loops().heartbeat_once()
    assert first.lost
    assert not second.lost
    assert "Lease of job" in caplog.text

    # The first attempt succeeds late: dropped, and the second delivery is still held.
    assert first.message is not None
    assert second.message is not None
    worker.attempts.handed_out(first)
    worker.attempts.started(first, first.message)
    worker.acknowledge(first)
    assert worker.attempts.find(info.id, first.token) is None
    assert worker.attempts.find(info.id, second.token) is second
    assert worker.attempts.leases() == {"default": [info.id, second.token]}

    # The second fails: its failure is what Redis records, not the first's success.
    worker.attempts.handed_out(second)
    worker.attempts.started(second, second.message)
    worker.attempts.failed(second, ValueError("second attempt failed"))
    worker.acknowledge(second)
    await worker.acks.flush(5)
    job = await job_fields(worker, info.id)
    assert (job["state"], job["retried"]) == ("retry", "1")
    assert job["error"] == "ValueError: second attempt failed"
    assert len(worker.attempts) == 0


async def test_a_worker_rides_out_a_redis_restart_and_resends_its_acknowledgements(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runs: collections.Counter[int] = collections.Counter()
    registry = JobRegistry()

    @registry.job("outage:work")
    async def work(payload: dict[str, int]) -> None:
        await asyncio.sleep(0.05)
        runs[payload["n"]] += 1

    with RedisServer(appendonly=True) as server:
        settings = QueueSettings(
            url=SecretStr(server.url), key_prefix="outage", lease_timeout=10, poll_interval=0.02
        )
        async with JobQueue(RedisJobBroker(settings)) as queue:
            await queue.enqueue_many([("outage:work", {"n": n}) for n in range(200)])
        with caplog.at_level(logging.WARNING, logger="jobqueue"):
            async with run_worker(RedisJobBroker(settings, registry=registry)) as broker:
                await wait_for(lambda: _true(sum(runs.values()) >= 20), "the first jobs")
                server.kill()
                await asyncio.sleep(1.0)  # jobs finish meanwhile; their acks cannot be sent
                server.restart()
                await wait_for(lambda: _true(len(runs) == 200), "every job", seconds=30)
                assert isinstance(broker, RedisJobBroker)
                stats_key = broker.keys["default"].stats
                client = broker.client

                async def drained() -> bool:
                    return int(await client.hget(stats_key, "processed") or 0) == 200

                await wait_for(drained, "every acknowledgement", seconds=30)
    assert set(runs.values()) == {1}, "a job whose handler finished ran again"
    assert "Redis unavailable" in caplog.text
    assert "Redis is back after" in caplog.text
    unavailable = [r for r in caplog.records if "unavailable (" in r.getMessage()]
    assert len(unavailable) <= 3, "one line per outage, not one per failed call"


async def _true(value: bool) -> bool:
    return value


async def test_a_producer_gets_a_retryable_error_and_a_retry_cannot_create_two_jobs() -> None:
    with RedisServer(appendonly=True) as server:
        settings = QueueSettings(url=SecretStr(server.url), key_prefix="produce")
        async with JobQueue(RedisJobBroker(settings)) as queue:
            first = await queue.enqueue_with_options(
                "produce:job", {"n": 1}, EnqueueOptions(job_id="order-1")
            )
            server.kill()
            with pytest.raises(QueueUnavailableError) as unavailable:
                await queue.enqueue_with_options(
                    "produce:job", {"n": 2}, EnqueueOptions(job_id="order-2")
                )
            assert isinstance(unavailable.value, ConnectionError)
            assert unavailable.value.job_ids == ("order-2",)
            server.restart()
            # Retrying what may have landed: the id that did is refused, the other stored.
            with pytest.raises(DuplicateJobError):
                await queue.enqueue_with_options(
                    "produce:job", {"n": 1}, EnqueueOptions(job_id=first.id)
                )
            await queue.enqueue_with_options(
                "produce:job", {"n": 2}, EnqueueOptions(job_id="order-2")
            )
            broker = queue.broker
            assert isinstance(broker, RedisJobBroker)
            async with Redis.from_url(server.url) as client:  # the broker's pool saw the restart
                assert await client.llen(broker.keys["default"].pending) == 2


async def test_completed_jobs_are_forgotten_when_nothing_completes(settings: QueueSettings) -> None:
    settings = settings.model_copy(update={"completed_retention": 0.2})
    worker = RedisJobBroker(settings)
    async with JobQueue(RedisJobBroker(settings)) as queue:
        await worker.startup()
        try:
            info = await queue.enqueue("done:job", {"n": 1})
            (delivery,) = await worker.fetch(1)
            await worker.scripts.call(
                *worker.calls.complete(delivery.queue, worker.calls.completion(delivery))
            )
            assert (await job_fields(worker, info.id))["state"] == "completed"
            await asyncio.sleep(0.25)
            await worker.worker_loops().recover_once()  # no completion since: the scan trims
            keys = worker.keys["default"]
            assert await worker.client.zcard(keys.completed) == 0
            assert not await job_fields(worker, info.id)
        finally:
            await worker.shutdown()


async def test_a_worker_started_while_redis_is_down_waits_for_it() -> None:
    ran = asyncio.Event()
    registry = JobRegistry()

    @registry.job("later:work")
    async def work(payload: Any) -> None:
        ran.set()

    with RedisServer(appendonly=True) as server:
        settings = QueueSettings(url=SecretStr(server.url), key_prefix="later")
        server.kill()
        with pytest.raises(QueueUnavailableError):  # a producer is told at once
            await JobQueue(RedisJobBroker(settings)).start()

        async def worker() -> None:
            async with run_worker(RedisJobBroker(settings, registry=registry)):
                await asyncio.wait_for(ran.wait(), 20)

        running = asyncio.create_task(worker())
        await asyncio.sleep(1.0)
        assert not running.done(), "the worker gave up while Redis was down"
        server.restart()
        async with JobQueue(RedisJobBroker(settings)) as queue:
            await queue.enqueue("later:work", {})
        await asyncio.wait_for(running, 30)


async def test_leases_that_expired_while_nobody_could_scan_get_another_lease_time(
    pair: tuple[RedisJobBroker, JobQueue],
) -> None:
    # Redis was away (here: no recovery scan at all) for longer than the scan gap, 3 x 0.2 s:
    # no worker could renew its leases, so an expired one says nothing about its worker.
    worker, queue = pair
    info = await queue.enqueue("late:job", {"n": 1})
    loops = worker.worker_loops()
    await loops.recover_once()
    (delivery,) = await worker.fetch(1)
    await asyncio.sleep(0.7)
    await loops.recover_once()
    keys = worker.keys["default"]
    assert await worker.client.zscore(keys.lease, info.id) is not None
    assert await worker.client.llen(keys.pending) == 0
    await loops.heartbeat_once()  # the live worker keeps its job
    assert not delivery.lost

    await asyncio.sleep(0.25)  # scans running, heartbeats not: its worker is gone now
    await loops.recover_once()
    assert await worker.client.lrange(keys.pending, 0, -1) == [info.id.encode()]
