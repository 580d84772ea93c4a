"""Malformed data in Redis ends in dead with a reason, and never stops the worker."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
import pytest
from taskiq.receiver import Receiver
from tests.helpers import job_fields

from jobqueue import JobQueue, JobRegistry, QueueSettings
from jobqueue.redis import Inspector, RedisJobBroker
from jobqueue.testing import run_worker


async def wait_for(check: Callable[[], Awaitable[bool]], what: str, seconds: float = 5) -> None:
    """Poll `check` (Redis state has no event to wait on) until true; fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


class Harness:
    def __init__(self, settings: QueueSettings, producer: RedisJobBroker, queue: JobQueue) -> None:
        self.settings = settings
        self.producer = producer
        self.client = producer.client
        self.keys = producer.keys["default"]
        self.queue = queue
        self.seen: list[dict[str, Any]] = []
        self.registry = JobRegistry()

        @self.registry.job("malformed:ok")
        async def ok(payload: dict[str, Any]) -> None:
            self.seen.append(payload)

    async def job(self, job_id: str) -> dict[str, str]:
        return await job_fields(self.producer, job_id)

    async def wait_dead(self, job_id: str) -> dict[str, str]:
        async def dead() -> bool:
            return await self.client.zscore(self.keys.dead, job_id) is not None

        await wait_for(dead, f"{job_id} in dead")
        return await self.job(job_id)

    async def check_still_working(self) -> None:
        """A normal job enqueued after the bad one still runs."""
        await self.queue.enqueue("malformed:ok", {"after": True})

        async def ran() -> bool:
            return self.seen == [{"after": True}]

        await wait_for(ran, "the normal job")


@pytest.fixture
async def harness(settings: QueueSettings) -> AsyncIterator[Harness]:
    producer = RedisJobBroker(settings)
    async with JobQueue(producer) as queue:
        yield Harness(settings, producer, queue)


async def test_garbage_id_in_pending_goes_to_dead(
    harness: Harness, receiver_class: type[Receiver]
) -> None:
    # Exactly the key a producer pushes to: <prefix>:{default}:pending.
    pending = f"{harness.settings.key_prefix}:{{default}}:pending"
    assert pending == harness.keys.pending
    await harness.client.lpush(pending, "garbage-id")

    async with run_worker(
        RedisJobBroker(harness.settings, registry=harness.registry), receiver_class=receiver_class
    ):
        job = await harness.wait_dead("garbage-id")
        await harness.check_still_working()

    assert job["state"] == "dead"
    assert "malformed" in job["error"]
    assert "no job stored" in job["error"]
    assert await harness.client.llen(pending) == 0
    assert await harness.client.zcard(harness.keys.lease) == 0


@pytest.mark.parametrize(
    "message",
    [
        b"{not json at all",
        b'{"valid": "json", "but": "not a job message"}',
        b"\xff\xfe binary",
    ],
)
async def test_job_whose_message_cannot_be_read_goes_to_dead(
    harness: Harness, message: bytes, receiver_class: type[Receiver]
) -> None:
    info = await harness.queue.enqueue("malformed:ok", {"before": True})
    await harness.client.hset(harness.keys.jobs, info.id, message)  # the job's stored record

    async with run_worker(
        RedisJobBroker(harness.settings, registry=harness.registry), receiver_class=receiver_class
    ):
        job = await harness.wait_dead(info.id)
        await harness.check_still_working()

    assert job["error"].startswith("malformed")
    assert {"before": True} not in harness.seen
    assert await harness.client.zcard(harness.keys.lease) == 0


async def test_job_type_without_a_handler_goes_to_dead(
    harness: Harness, receiver_class: type[Receiver]
) -> None:
    # The producer may enqueue any job type; this worker has no handler for it.
    info = await harness.queue.enqueue("malformed:nobody-handles-this", {"x": 1})

    async with run_worker(
        RedisJobBroker(harness.settings, registry=harness.registry), receiver_class=receiver_class
    ):
        job = await harness.wait_dead(info.id)
        await harness.check_still_working()

    assert "unknown job type" in job["error"]
    assert "malformed:nobody-handles-this" in job["error"]
    assert job["retried"] == "0"


async def test_no_payload_of_a_bad_job_reaches_the_logs(
    harness: Harness, receiver_class: type[Receiver], caplog: pytest.LogCaptureFixture
) -> None:
    marker = "PAYLOAD-MARKER-7f3a"
    bad = {
        "record": b"malformed:ok\x1f1\x1f\x1f\x1f\x1f{" + marker.encode(),
        "legacy": b'{"task_id": "legacy", "task_name": "x", "args": "' + marker.encode() + b'"}',
        "unknown": b"nobody:handles\x1f1\x1f\x1f\x1f\x1f" + orjson.dumps({"m": marker}),
    }
    for job_id, record in bad.items():
        await harness.client.hset(harness.keys.jobs, job_id, record)
        await harness.client.lpush(harness.keys.pending, job_id)
    with caplog.at_level(logging.DEBUG):
        async with run_worker(
            RedisJobBroker(harness.settings, registry=harness.registry),
            receiver_class=receiver_class,
        ):
            for job_id in bad:
                await harness.wait_dead(job_id)
            await harness.check_still_working()
    assert "Job moved to dead" in caplog.text
    assert marker not in caplog.text


async def test_the_inspector_lists_jobs_it_cannot_read(harness: Harness) -> None:
    for job_id, record in {"array": b"[1, 2]", "text": b"just text", "null": b"null"}.items():
        await harness.client.hset(harness.keys.jobs, job_id, record)
        await harness.client.zadd(harness.keys.dead, {job_id: 1})
    listed = await Inspector(harness.producer).jobs("default", "dead")
    assert {(r.id, r.job_type) for r in listed} == {("array", "?"), ("text", "?"), ("null", "?")}
    assert all(r.error and r.error.startswith("malformed") for r in listed)
