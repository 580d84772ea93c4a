"""A worker for the dashboard's tests: jobs that sleep, and jobs that fail while a switch is on.

Run it as `taskiq worker tests.workers.dashboard:make_broker --workers 1` with the settings in
the environment. `fail` raises its payload's `message` while `<prefix>:test:broken` exists, and
completes once it is gone; every start appends the payload's `name` to `<prefix>:test:started`,
so a test can tell whether the worker fetched anything.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from taskiq import TaskiqEvents, TaskiqState

from jobqueue import JobRegistry, QueueSettings
from jobqueue.redis import RedisJobBroker

registry = JobRegistry()
_broker: RedisJobBroker | None = None


def test_key(settings: QueueSettings, name: str) -> str:
    """A key of the tests (under the settings' prefix)."""
    return f"{settings.key_prefix}:test:{name}"


async def _started(payload: dict[str, Any]) -> RedisJobBroker:
    assert _broker is not None
    await _broker.client.rpush(test_key(_broker.settings, "started"), payload.get("name", "?"))
    return _broker


@registry.job("sleep")
async def sleep(payload: dict[str, Any]) -> None:
    """Sleep `seconds`."""
    await _started(payload)
    await asyncio.sleep(float(payload.get("seconds", 0)))


@registry.job("fail", max_retry=0)
async def fail(payload: dict[str, Any]) -> None:
    """Raise `message` while the switch is on."""
    broker = await _started(payload)
    if await broker.client.exists(test_key(broker.settings, "broken")):
        raise RuntimeError(payload.get("message", "upstream refused the call"))


def make_broker() -> RedisJobBroker:
    """The factory `taskiq worker` calls (settings from the environment)."""
    global _broker
    broker = RedisJobBroker(QueueSettings.from_env(), registry=registry)

    async def ready(state: TaskiqState) -> None:
        await broker.client.rpush(test_key(broker.settings, "ready"), os.getpid())

    broker.add_event_handler(TaskiqEvents.WORKER_STARTUP, ready)
    _broker = broker
    return broker
