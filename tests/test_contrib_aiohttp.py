"""jobqueue.contrib.aiohttp: the cleanup context opens and closes the queue under `QUEUE_KEY`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Self

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from dependency_injector import containers, providers

from jobqueue import JobQueue, QueueClosedError, QueueSettings
from jobqueue.contrib.aiohttp import QUEUE_KEY, queue_context
from jobqueue.di import QueueContainer
from jobqueue.memory import MemoryJobBroker
from jobqueue.testing import RecordingQueue


class SpyQueue(JobQueue):
    """A real `JobQueue` (memory driver) that records when it is started and closed."""

    def __init__(self) -> None:
        super().__init__(MemoryJobBroker(QueueSettings(driver="memory")))
        self.calls: list[str] = []

    async def start(self) -> Self:
        self.calls.append("start")
        return await super().start()

    async def close(self) -> None:
        self.calls.append("close")
        await super().close()


async def enqueue(request: web.Request) -> web.Response:
    info = await request.app[QUEUE_KEY].enqueue("thing:do", {"n": 1})
    return web.json_response({"id": info.id})


def make_app(context: Callable[[web.Application], AsyncIterator[None]]) -> web.Application:
    app = web.Application()
    app.cleanup_ctx.append(context)
    app.router.add_post("/enqueue", enqueue)
    return app


async def test_cleanup_context_stores_the_queue_and_closes_it() -> None:
    recording = RecordingQueue()
    app = make_app(queue_context(recording))
    async with TestClient(TestServer(app)) as client:
        assert app[QUEUE_KEY] is recording
        response = await client.post("/enqueue")
        assert response.status == 200
        assert (await response.json())["id"] == recording.jobs[0].info.id
        assert recording.closed is False
    recording.assert_enqueued("thing:do", count=1, n=1)
    assert recording.closed is True


async def test_cleanup_context_starts_a_job_queue_built_by_a_factory() -> None:
    made: list[SpyQueue] = []

    def factory() -> SpyQueue:
        made.append(SpyQueue())
        return made[0]

    app = make_app(queue_context(factory))
    assert made == []
    async with TestClient(TestServer(app)) as client:
        (queue,) = made
        assert queue.calls == ["start"]
        assert (await client.post("/enqueue")).status == 200
    assert queue.calls == ["start", "close"]
    with pytest.raises(QueueClosedError):
        await queue.enqueue("thing:do", {})


async def test_container_resources_live_as_long_as_the_app() -> None:
    events: list[str] = []

    async def database() -> AsyncIterator[str]:
        events.append("database opened")
        yield "db"
        events.append("database closed")

    class Container(containers.DeclarativeContainer):
        core = providers.Container(QueueContainer)
        database_resource = providers.Resource(database)

    container = Container()
    container.core.settings.override(QueueSettings(driver="memory"))
    app = make_app(queue_context(container.core.queue, container=container))
    async with TestClient(TestServer(app)) as client:
        assert events == ["database opened"]
        queue = app[QUEUE_KEY]
        assert isinstance(queue, JobQueue)
        assert queue is await container.core.queue()
        assert (await client.post("/enqueue")).status == 200
    assert events == ["database opened", "database closed"]
    with pytest.raises(QueueClosedError):
        await queue.enqueue("thing:do", {})
