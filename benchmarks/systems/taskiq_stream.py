"""taskiq + taskiq-redis `RedisStreamBroker` (XADD / XREADGROUP with acks), `--workers 1`."""

from __future__ import annotations

from typing import Any

from taskiq_redis import RedisStreamBroker

from benchmarks.systems import _body

SETTINGS: dict[str, Any] = {
    "cli": "taskiq worker benchmarks.systems.taskiq_stream:broker --workers 1",
    "max_async_tasks": 10,
    "broker": "RedisStreamBroker(url, queue_name='bench') defaults: xread_count=100, "
    "xread_block=2000 ms, consumer group 'taskiq'; no result backend",
    "ack": "when_saved (taskiq default): XACK after the job ran",
    "log_level": "WARNING (taskiq logs every job at INFO); --worker-logs default: INFO",
}

broker = RedisStreamBroker(_body.queue_url(), queue_name="bench")


@broker.task(task_name="noop")
async def noop(t: float) -> None:
    await _body.noop(t)


@broker.task(task_name="sleep")
async def sleep(t: float) -> None:
    await _body.sleep(t)


TASKS = {"noop": noop, "sleep": sleep}


def worker_command() -> tuple[list[str], dict[str, str]]:
    argv = ["-m", "taskiq", "worker", f"{__name__}:broker", "--workers", "1"]
    return [*argv, "--max-async-tasks", str(_body.concurrency()), *_body.log_args()], {}


class Producer:
    async def prepare(self) -> None:
        # The harness flushes Redis between phases, which drops the consumer group; in a real
        # deployment it exists from the first start. Declare it again (at '$', as the broker
        # does) before enqueueing a backlog, or the worker would never see those jobs.
        await broker._declare_consumer_group()

    async def enqueue(self, body: str, t: float) -> None:
        await TASKS[body].kiq(t)

    async def close(self) -> None:
        await broker.shutdown()


async def open_producer() -> Producer:
    await broker.startup()
    return Producer()
