"""jobqueue: `RedisJobBroker` run by `taskiq worker --workers 1`; producers use `JobQueue`."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from benchmarks.systems import _body
from jobqueue import JobQueue, JobRegistry, QueueSettings
from jobqueue.redis import RedisJobBroker

SETTINGS: dict[str, Any] = {
    "cli": (
        "taskiq worker benchmarks.systems.jobqueue:make_broker --workers 1"
        " --receiver jobqueue.receiver:JobReceiver"
    ),
    "concurrency": "QUEUE_CONCURRENCY=10 (jobs one worker process runs at once)",
    "max_async_tasks": 10,
    "queues": "defaults (critical=6, default=3, low=1; jobs go to default)",
    "wake_up": "pub/sub when a queue gets work after being empty; idle poll back-off 1-50 ms",
    "log_level": "WARNING (INFO logs 3 lines per job); --worker-logs default: INFO",
    "key_prefix": "bench",
    "batch": "enqueue_many in chunks of the driver's batch size",
}
KEY_PREFIX = "bench"

registry = JobRegistry()


@registry.job("noop")
async def noop(t: float) -> None:
    await _body.noop(t)


@registry.job("sleep")
async def sleep(t: float) -> None:
    await _body.sleep(t)


def _settings() -> QueueSettings:
    return QueueSettings.from_env(
        url=SecretStr(_body.queue_url()),
        key_prefix=KEY_PREFIX,
        concurrency=_body.concurrency(),
    )


def make_broker() -> RedisJobBroker:
    """The worker entry point: `taskiq worker benchmarks.systems.jobqueue:make_broker`."""
    return RedisJobBroker(QueueSettings.from_env(), registry=registry)


def worker_command() -> tuple[list[str], dict[str, str]]:
    n = str(_body.concurrency())
    argv = ["-m", "taskiq", "worker", f"{__name__}:make_broker", "--workers", "1"]
    argv += ["--receiver", "jobqueue.receiver:JobReceiver"]
    argv += ["--max-async-tasks", n, *_body.log_args()]
    env = {
        "QUEUE_URL": _body.queue_url(),
        "QUEUE_KEY_PREFIX": KEY_PREFIX,
        "QUEUE_CONCURRENCY": n,
    }
    return argv, env


class Producer:
    def __init__(self) -> None:
        self.queue = JobQueue(RedisJobBroker(_settings()))

    async def start(self) -> None:
        await self.queue.start()

    async def enqueue(self, body: str, t: float) -> None:
        await self.queue.enqueue(body, t)

    async def enqueue_many(self, body: str, ts: list[float]) -> None:
        await self.queue.enqueue_many([(body, t) for t in ts])

    async def close(self) -> None:
        await self.queue.close()


async def open_producer() -> Producer:
    producer = Producer()
    await producer.start()
    return producer
