"""A worker for subprocess tests: its jobs write what happens to them into Redis.

Run it as `taskiq worker tests.workers.recording:make_broker --workers 1` with the settings in the
environment (`QUEUE_URL`, `QUEUE_KEY_PREFIX`, `QUEUE_LEASE_TIMEOUT`, ...). The test process reads
these records from the same Redis, under keys that share the settings' key prefix:

- `<prefix>:test:ready`   pid of each worker process once its broker has started;
- `<prefix>:test:started` one JSON record per attempt that began (job name, attempt, pid, time);
- `<prefix>:test:finished` one JSON record per attempt that ran to its end.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any

from taskiq import TaskiqEvents, TaskiqState

from jobqueue import JobRegistry, QueueSettings
from jobqueue.redis import RedisJobBroker

registry = JobRegistry()
_broker: RedisJobBroker | None = None


def record_key(settings: QueueSettings, name: str) -> str:
    """The Redis list a worker appends its `name` records to."""
    return f"{settings.key_prefix}:test:{name}"


async def _record(name: str, **fields: Any) -> None:
    assert _broker is not None
    body = json.dumps({"pid": os.getpid(), "t": time.time(), **fields})
    await _broker.client.rpush(record_key(_broker.settings, name), body)


@registry.job("sleep")
async def sleep(payload: dict[str, Any]) -> None:
    """Record the start, sleep, record the end.

    `first_seconds` (if given) is slept by the first attempt only, so that a job that is meant to
    hang in the first worker finishes quickly once another worker runs it again.
    """
    assert _broker is not None
    name = payload["name"]
    starts = await _broker.client.incr(record_key(_broker.settings, f"starts:{name}"))
    await _record("started", job=name, attempt=starts)
    seconds = payload.get("seconds", 0.0)
    if starts == 1 and "first_seconds" in payload:
        seconds = payload["first_seconds"]
    await asyncio.sleep(seconds)
    await _record("finished", job=name, attempt=starts)


def make_broker() -> RedisJobBroker:
    """The factory `taskiq worker` calls in each worker process (settings from the environment)."""
    global _broker
    broker = RedisJobBroker(QueueSettings.from_env(), registry=registry)

    async def ready(state: TaskiqState) -> None:
        await broker.client.rpush(record_key(broker.settings, "ready"), os.getpid())

    broker.add_event_handler(TaskiqEvents.WORKER_STARTUP, ready)
    _broker = broker
    return broker
