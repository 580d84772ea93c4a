"""taskiq + taskiq-redis `ListQueueBroker` (LPUSH / BRPOP), run by `taskiq worker --workers 1`."""

from __future__ import annotations

from typing import Any

from taskiq_redis import ListQueueBroker

from benchmarks.systems import _body

SETTINGS: dict[str, Any] = {
    "cli": "taskiq worker benchmarks.systems.taskiq_list:broker --workers 1",
    "max_async_tasks": 10,
    "broker": "ListQueueBroker(url, queue_name='bench'), no result backend",
    "ack": "none (ListQueueBroker pops; a job is lost if the worker dies)",
    "log_level": "WARNING (taskiq logs every job at INFO); --worker-logs default: INFO",
}

broker = ListQueueBroker(_body.queue_url(), queue_name="bench")


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
    async def enqueue(self, body: str, t: float) -> None:
        await TASKS[body].kiq(t)

    async def close(self) -> None:
        await broker.shutdown()


async def open_producer() -> Producer:
    await broker.startup()
    return Producer()
