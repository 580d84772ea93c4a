"""streaQ: Redis streams + consumer groups, `streaq run <module>:worker` (one process)."""

from __future__ import annotations

import contextlib
from typing import Any

from streaq import Worker

from benchmarks.systems import _body

SETTINGS: dict[str, Any] = {
    "cli": "streaq run benchmarks.systems.streaq:worker",
    "concurrency": 10,
    "queue_name": "bench",
    "prefetch": "default (= concurrency)",
    "results": "default ttl 5 min (streaQ stores every result)",
    "log_level": "streaq CLI default, INFO: its CLI has no way to lower it (2 lines per job)",
    "batch": "Worker.enqueue_many (one pipeline)",
}

worker = Worker(redis_url=_body.queue_url(), concurrency=_body.concurrency(), queue_name="bench")
"""The worker entry point: `streaq run benchmarks.systems.streaq:worker`."""


@worker.task(name="noop")
async def noop(t: float) -> None:
    await _body.noop(t)


@worker.task(name="sleep")
async def sleep(t: float) -> None:
    await _body.sleep(t)


TASKS = {"noop": noop, "sleep": sleep}


def worker_command() -> tuple[list[str], dict[str, str]]:
    return ["-m", "streaq", "run", f"{__name__}:worker"], {}


class Producer:
    def __init__(self) -> None:
        self.stack = contextlib.AsyncExitStack()

    async def enqueue(self, body: str, t: float) -> None:
        await TASKS[body].enqueue(t)

    async def enqueue_many(self, body: str, ts: list[float]) -> None:
        task = TASKS[body]
        await worker.enqueue_many([task.enqueue(t) for t in ts])

    async def close(self) -> None:
        await self.stack.aclose()


async def open_producer() -> Producer:
    producer = Producer()
    await producer.stack.enter_async_context(worker)
    return producer
