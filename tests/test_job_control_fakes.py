"""The memory driver and `RecordingQueue` support the job-control calls, for users' tests."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import BaseModel

from jobqueue import (
    CancelResult,
    EnqueueOptions,
    JobFailedError,
    JobNotFoundError,
    JobQueue,
    JobRegistry,
    JobType,
    QueueSettings,
    ResultTimeoutError,
    current_job,
)
from jobqueue.memory import MemoryJobBroker
from jobqueue.testing import RecordingQueue


class Total(BaseModel):
    value: int


SUM = JobType("fake:sum", list[int], result_type=Total, result_ttl=60)


def memory_broker() -> tuple[MemoryJobBroker, dict[str, Any]]:
    seen: dict[str, Any] = {"started": asyncio.Event(), "finally": []}
    jobs = JobRegistry()

    @jobs.job(SUM)
    async def add(numbers: list[int]) -> Total:
        return Total(value=sum(numbers))

    @jobs.job("fake:wait", result_ttl=60)
    async def wait(payload: Any) -> None:
        await current_job().progress(0.5, "halfway")
        seen["started"].set()
        try:
            await asyncio.sleep(30)
        finally:
            seen["finally"].append(payload)

    return MemoryJobBroker(QueueSettings(driver="memory"), registry=jobs), seen


async def test_the_memory_driver_cancels_waits_and_reports_progress() -> None:
    broker, seen = memory_broker()
    async with JobQueue(broker) as queue:
        total = await (await queue.enqueue(SUM, [1, 2, 3])).result(timeout=2)
        assert total == Total(value=6)

        later = await queue.enqueue_with_delay("fake:wait", {"n": 1}, 3600)
        assert await queue.cancel(later.id) is CancelResult.CANCELLED
        with pytest.raises(JobFailedError, match="cancelled"):
            await later.result(timeout=1)

        running = await queue.enqueue("fake:wait", {"n": 2})
        await asyncio.wait_for(seen["started"].wait(), 2)
        progress = await queue.progress(running.id)
        assert progress is not None
        assert (progress.fraction, progress.message) == (0.5, "halfway")
        assert await queue.cancel(running.id) is CancelResult.STOPPING
        with pytest.raises(JobFailedError):
            await running.result(timeout=2)
        assert seen["finally"] == [{"n": 2}]
        assert await queue.cancel(running.id) is CancelResult.FINISHED
        assert await queue.cancel("nope") is CancelResult.NOT_FOUND

        late = await queue.enqueue_with_options(
            "fake:wait", {"n": 3}, EnqueueOptions(delay=0.2, deadline=0.05)
        )
        with pytest.raises(JobFailedError, match="deadline passed"):
            await late.result(timeout=2)
        with pytest.raises(JobNotFoundError):
            await queue.result("nope", timeout=0.1)


async def test_the_recording_queue_lets_a_test_end_jobs() -> None:
    queue = RecordingQueue()
    info = await queue.enqueue(SUM, [2, 2])
    with pytest.raises(ResultTimeoutError):
        await info.result(timeout=0.05)
    waiting = asyncio.create_task(info.result(timeout=2))
    await asyncio.sleep(0)
    queue.finish(info.id, {"value": 4})
    assert await waiting == Total(value=4)  # read back as SUM's result type

    other = await queue.enqueue("fake:anything", {})
    queue.report_progress(other.id, 0.3, "a third")
    progress = await queue.progress(other.id)
    assert progress is not None
    assert progress.fraction == 0.3
    assert await queue.cancel(other.id) is CancelResult.CANCELLED
    assert await queue.cancel(other.id) is CancelResult.FINISHED
    with pytest.raises(JobFailedError, match="cancelled"):
        await queue.result(other.id)

    failing = await queue.enqueue("fake:anything", {})
    queue.fail(failing.id, "PermanentError: no such user")
    with pytest.raises(JobFailedError, match="no such user"):
        await failing.result()
    assert await queue.cancel("unknown") is CancelResult.NOT_FOUND
