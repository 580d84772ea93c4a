"""Job control on a real Redis and a real worker: cancel, results, progress, deadlines."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from pydantic import BaseModel
from tests.helpers import job_fields

from jobqueue import (
    CancelResult,
    EnqueueOptions,
    JobFailedError,
    JobNotFoundError,
    JobQueue,
    JobRegistry,
    JobState,
    JobType,
    QueueSettings,
    ResultTimeoutError,
    current_job,
    fixed_schedule,
)
from jobqueue.redis import RedisJobBroker
from jobqueue.testing import run_worker


class Invoice(BaseModel):
    number: int


class Receipt(BaseModel):
    total: float
    lines: list[str]


RENDER = JobType("control:render", Invoice, result_type=Receipt, result_ttl=60)


@dataclass
class Lab:
    queue: JobQueue
    broker: RedisJobBroker
    events: dict[str, asyncio.Event]
    finally_ran: list[str]


def registry(lab: dict[str, Any]) -> JobRegistry:
    jobs = JobRegistry()

    @jobs.job(RENDER)
    async def render(invoice: Invoice) -> Receipt:
        return Receipt(total=invoice.number * 1.5, lines=[f"invoice {invoice.number}"])

    @jobs.job("control:wait", result_ttl=60)
    async def wait(payload: dict[str, Any]) -> str:
        lab["events"].setdefault(payload["name"], asyncio.Event()).set()
        try:
            await current_job().progress(0.25, "started")
            await asyncio.sleep(payload.get("seconds", 30))
            return "slept"
        finally:
            lab["finally"].append(payload["name"])

    @jobs.job("control:flaky", max_retry=5, retry_delay=fixed_schedule(30))
    async def flaky(payload: dict[str, Any]) -> None:
        raise ValueError("try again later")

    @jobs.job("control:fails", max_retry=0, result_ttl=60)
    async def fails(payload: dict[str, Any]) -> None:
        raise ValueError("it broke")

    return jobs


@pytest.fixture
async def lab(settings: QueueSettings) -> AsyncIterator[Lab]:
    state: dict[str, Any] = {"events": {}, "finally": []}
    jobs = registry(state)
    async with (
        JobQueue(RedisJobBroker(settings, registry=jobs)) as queue,
        run_worker(RedisJobBroker(settings, registry=jobs)),
    ):
        broker = queue.broker
        assert isinstance(broker, RedisJobBroker)
        yield Lab(queue, broker, state["events"], state["finally"])


async def started(lab: Lab, name: str) -> None:
    await asyncio.wait_for(lab.events.setdefault(name, asyncio.Event()).wait(), 5)


async def test_cancel_a_pending_a_scheduled_and_a_retrying_job(settings: QueueSettings) -> None:
    jobs = registry({"events": {}, "finally": []})
    async with JobQueue(RedisJobBroker(settings, registry=jobs)) as queue:
        broker = queue.broker
        assert isinstance(broker, RedisJobBroker)
        unique = EnqueueOptions(unique=True, unique_ttl=3600)
        pending = await queue.enqueue_with_options("control:wait", {"name": "p"}, unique)
        scheduled = await queue.enqueue_with_delay("control:wait", {"name": "s"}, 3600)
        retrying = await queue.enqueue("control:flaky", {})
        async with run_worker(RedisJobBroker(settings, registry=jobs)):
            await queue.cancel(pending.id)  # the worker must not run it meanwhile
            for _ in range(500):
                if (await job_fields(broker, retrying.id)).get("state") == "retry":
                    break
                await asyncio.sleep(0.01)

        assert await queue.cancel(scheduled.id) is CancelResult.CANCELLED
        assert await queue.cancel(retrying.id) is CancelResult.CANCELLED
        for info in (pending, scheduled, retrying):
            job = await job_fields(broker, info.id)
            assert (job["state"], job["error"]) == ("cancelled", "cancelled")
            assert await queue.cancel(info.id) is CancelResult.FINISHED  # twice: harmless
        assert await queue.cancel("no-such-job") is CancelResult.NOT_FOUND
        keys = broker.keys["default"]
        assert await broker.client.llen(keys.pending) == 0
        assert await broker.client.zcard(keys.scheduled) == 0
        assert await broker.client.zcard(keys.retry) == 0
        # The unique lock is free: the same job can be enqueued again.
        await queue.enqueue_with_options("control:wait", {"name": "p"}, unique)
        with pytest.raises(JobFailedError, match="cancelled"):
            await pending.result(timeout=1)


async def test_cancel_a_running_job(lab: Lab) -> None:
    unique = EnqueueOptions(unique=True, unique_ttl=3600)
    info = await lab.queue.enqueue_with_options("control:wait", {"name": "run"}, unique)
    await started(lab, "run")
    assert await lab.queue.cancel(info.id) is CancelResult.STOPPING
    with pytest.raises(JobFailedError) as failed:
        await info.result(timeout=5)
    assert (failed.value.state, failed.value.error) == ("cancelled", "cancelled")
    assert lab.finally_ran == ["run"]  # CancelledError at its await: `finally:` ran
    job = await job_fields(lab.broker, info.id)
    assert job["state"] == "cancelled"
    assert job["retried"] == "0"
    stats = await lab.broker.client.hgetall(lab.broker.keys["default"].stats)
    assert stats.get(b"cancelled") == b"1"
    assert b"failed" not in stats
    again = await lab.queue.enqueue_with_options("control:wait", {"name": "run"}, unique)
    assert again.id != info.id  # the unique lock was released


async def test_results_round_trip_as_their_declared_type(lab: Lab) -> None:
    info = await lab.queue.enqueue(RENDER, Invoice(number=4))
    receipt = await info.result(timeout=5)
    assert receipt == Receipt(total=6.0, lines=["invoice 4"])  # a Receipt, for mypy too
    assert await lab.queue.result(info.id, job_type=RENDER) == receipt
    untyped = await JobQueue(RedisJobBroker(lab.broker.settings)).result(info.id)
    assert untyped == {"total": 6.0, "lines": ["invoice 4"]}  # without the type: the JSON
    # Stored as JSON, never pickled.
    raw = await lab.broker.client.hget(lab.broker.keys["default"].job(info.id), "result")
    assert orjson.loads(raw) == {"total": 6.0, "lines": ["invoice 4"]}
    record = await lab.broker.client.hget(lab.broker.keys["default"].jobs, info.id)
    assert b"\x80" not in record  # no pickle protocol marker
    assert b"\x80" not in raw
    assert (await job_fields(lab.broker, info.id))["state"] == "completed"


async def test_a_failed_job_and_a_timeout_and_an_unknown_job(lab: Lab) -> None:
    failed = await lab.queue.enqueue("control:fails", {})
    with pytest.raises(JobFailedError) as caught:
        await failed.result(timeout=5)
    assert caught.value.state == "dead"
    assert "ValueError: it broke" in caught.value.error

    running = await lab.queue.enqueue("control:wait", {"name": "slow"})
    start = time.monotonic()
    with pytest.raises(ResultTimeoutError):
        await running.result(timeout=0.3)
    assert 0.29 < time.monotonic() - start < 1.5
    with pytest.raises(JobNotFoundError):
        await lab.queue.result("never-enqueued", timeout=1)


async def test_progress_is_read_while_the_job_runs(lab: Lab) -> None:
    info = await lab.queue.enqueue("control:wait", {"name": "progress"})
    await started(lab, "progress")
    for _ in range(200):
        progress = await lab.queue.progress(info.id)
        if progress is not None:
            break
        await asyncio.sleep(0.01)
    assert progress is not None
    assert (progress.fraction, progress.message) == (0.25, "started")
    assert progress.updated_at <= datetime.now(UTC) + timedelta(seconds=1)
    await lab.queue.cancel(info.id)


async def test_result_wakes_soon_after_completion(lab: Lab) -> None:
    lags = []
    for n in range(20):
        info = await lab.queue.enqueue("control:wait", {"name": f"fast-{n}", "seconds": 0.05})
        waiting = asyncio.create_task(info.result(timeout=5))
        assert await waiting == "slept"
        ended = await lab.broker.client.hget(
            lab.broker.keys["default"].job(info.id), "completed_at"
        )
        lags.append(time.time() * 1000 - int(ended))
    print(f"\nresult() after completion: median {statistics.median(lags):.1f} ms")
    assert statistics.median(lags) < 50


async def test_a_deadline_passes_for_a_delayed_job_and_a_running_one(lab: Lab) -> None:
    late = await lab.queue.enqueue_with_options(
        "control:wait", {"name": "late"}, EnqueueOptions(delay=0.3, deadline=0.1)
    )
    with pytest.raises(JobFailedError, match="deadline passed: not started by"):
        await late.result(timeout=5)
    assert "late" not in lab.events

    soon = datetime.now(UTC) + timedelta(seconds=0.4)
    running = await lab.queue.enqueue_with_options(
        "control:wait", {"name": "overrun", "seconds": 30}, EnqueueOptions(deadline=soon)
    )
    assert running.deadline is not None
    with pytest.raises(JobFailedError, match="deadline passed while it ran"):
        await running.result(timeout=5)
    assert lab.finally_ran == ["overrun"]
    assert (await job_fields(lab.broker, running.id))["state"] == JobState.DEAD.value


async def test_taskiq_wait_result_reads_the_kept_result(lab: Lab) -> None:
    task = lab.broker.find_task(RENDER.name)
    assert task is not None
    sent = await task.kiq({"number": 2})
    result = await sent.wait_result(timeout=5, check_interval=0.01)
    assert not result.is_err
    assert result.return_value == {"total": 3.0, "lines": ["invoice 2"]}
