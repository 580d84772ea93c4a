"""A user's Taskiq middleware still sees (and may change) every message jobqueue sends."""

from __future__ import annotations

import asyncio

from taskiq import TaskiqMessage, TaskiqMiddleware
from taskiq.receiver import Receiver

from jobqueue import JobQueue, JobRegistry, QueueSettings
from jobqueue.redis import RedisJobBroker
from jobqueue.testing import run_worker


class StampTenant(TaskiqMiddleware):
    def pre_send(self, message: TaskiqMessage) -> TaskiqMessage:
        message.labels["tenant"] = "acme"
        return message


async def test_pre_send_middleware_changes_reach_the_worker(
    settings: QueueSettings, receiver_class: type[Receiver]
) -> None:
    seen: list[str] = []
    registry = JobRegistry()

    @registry.job("tenant:echo")
    async def echo(payload: dict[str, int]) -> None:
        seen.append(str(payload["n"]))

    class RecordLabels(TaskiqMiddleware):
        def pre_execute(self, message: TaskiqMessage) -> TaskiqMessage:
            seen.append(message.labels.get("tenant", "none"))
            return message

    producer = RedisJobBroker(settings, registry=registry)
    producer.add_middlewares(StampTenant())
    worker = RedisJobBroker(settings, registry=registry)
    worker.add_middlewares(RecordLabels())
    async with JobQueue(producer) as queue:
        await queue.enqueue("tenant:echo", {"n": 1})
        async with run_worker(worker, receiver_class=receiver_class):
            for _ in range(300):
                if len(seen) == 2:
                    break
                await asyncio.sleep(0.01)
    assert seen == ["acme", "1"]
