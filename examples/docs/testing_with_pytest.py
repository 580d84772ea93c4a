"""Testing code that enqueues and runs jobs, with jobqueue's pytest plugin.

    python examples/docs/testing_with_pytest.py

runs this file with pytest. The plugin is installed with jobqueue (a `pytest11` entry point), so
its fixtures need no import and no conftest; it starts one private Redis for the session unless
REDIS_URL is set. Tests are async: this project sets pytest-asyncio's `asyncio_mode = "auto"`.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable

import pytest

from jobqueue import JobQueue, JobRegistry, PermanentError, Queue, QueueSettings, connect
from jobqueue.memory import MemoryJobBroker
from jobqueue.redis import RedisJobBroker
from jobqueue.testing import RecordingQueue, run_worker

jobs = JobRegistry()
sent: list[str] = []


@jobs.job("email:send")
async def send_email(payload: dict[str, str]) -> None:
    if "@" not in payload["to"]:
        raise PermanentError("invalid address")
    sent.append(payload["to"])


async def eventually(condition: Callable[[], bool], within: float = 5.0) -> None:
    for _ in range(int(within / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")


# --8<-- [start:redis]
async def test_email_is_sent(jobqueue_settings: QueueSettings) -> None:
    # jobqueue_settings: the session's Redis, and a key prefix of this test's own.
    sent.clear()
    async with connect(jobqueue_settings, registry=jobs) as queue:
        await queue.enqueue("email:send", {"to": "ada@example.com"})
        async with run_worker(RedisJobBroker(jobqueue_settings, registry=jobs)):
            await eventually(lambda: sent == ["ada@example.com"])


# --8<-- [end:redis]


# --8<-- [start:memory]
@pytest.fixture
def memory_broker() -> MemoryJobBroker:
    settings = QueueSettings(driver="memory", concurrency=4)
    return MemoryJobBroker(settings, registry=jobs)


async def test_invalid_address_goes_to_dead(memory_broker: MemoryJobBroker) -> None:
    # With the memory driver, the queue's own process runs the jobs: no worker, no Redis.
    async with JobQueue(memory_broker) as queue:
        info = await queue.enqueue("email:send", {"to": "nobody"})
        await memory_broker.wait_idle()
    assert memory_broker.stats() == {"processed": 0, "failed": 1, "dead": 1}
    record = memory_broker.job(info.id)
    assert record is not None
    assert record["state"] == "dead"
    assert record["error"] == "permanent: PermanentError: invalid address"


# --8<-- [end:memory]


# --8<-- [start:recording]
async def sign_up(queue: Queue, email: str) -> None:
    """Application code: depends on the `Queue` protocol, not on a driver."""
    await queue.enqueue("email:send", {"to": email})


async def test_sign_up_sends_welcome_email() -> None:
    queue = RecordingQueue(registry=jobs)  # records enqueues, runs nothing, needs no Redis
    await sign_up(queue, "ada@example.com")
    queue.assert_enqueued("email:send", count=1, to="ada@example.com")
    assert queue.jobs[0].json == {"to": "ada@example.com"}


# --8<-- [end:recording]


def test_redis_url(jobqueue_redis_url: str) -> None:
    assert jobqueue_redis_url.startswith("redis://")


if __name__ == "__main__":
    command = [sys.executable, "-m", "pytest", __file__, "-q", "-p", "no:cacheprovider"]
    raise SystemExit(subprocess.run(command, check=False).returncode)
