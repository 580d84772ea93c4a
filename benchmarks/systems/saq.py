"""SAQ: `saq <settings> --workers 1`; jobs are popped with a blocking BLMOVE."""

from __future__ import annotations

from typing import Any

from saq import Queue

from benchmarks.systems import _body

SETTINGS: dict[str, Any] = {
    "cli": "saq benchmarks.systems.saq.settings --workers 1",
    "concurrency": 10,
    "queue": "Queue.from_url(url, name='bench'); SAQ keeps job records (default ttl)",
    "log_level": "saq CLI default (WARNING)",
}


async def noop(ctx: dict[str, Any], *, t: float) -> None:
    await _body.noop(t)


async def sleep(ctx: dict[str, Any], *, t: float) -> None:
    await _body.sleep(t)


settings = {
    "queue": Queue.from_url(_body.queue_url(), name="bench"),
    "functions": [noop, sleep],
    "concurrency": _body.concurrency(),
}
"""The worker entry point: `saq benchmarks.systems.saq.settings`."""


def worker_command() -> tuple[list[str], dict[str, str]]:
    return ["-m", "saq", f"{__name__}.settings", "--workers", "1"], {}


class Producer:
    def __init__(self) -> None:
        self.queue = Queue.from_url(_body.queue_url(), name="bench")

    async def enqueue(self, body: str, t: float) -> None:
        await self.queue.enqueue(body, t=t)

    async def close(self) -> None:
        await self.queue.disconnect()


async def open_producer() -> Producer:
    producer = Producer()
    await producer.queue.connect()
    return producer
