"""jobqueue.contrib.fastapi: the lifespan opens and closes the queue; `QueueDep` hands it out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Self

import httpx
import pytest
from dependency_injector import containers, providers
from fastapi import FastAPI

from jobqueue import JobQueue, QueueClosedError, QueueSettings
from jobqueue.contrib.fastapi import QueueDep, get_queue, queue_lifespan
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


def make_app(lifespan: Any = None) -> FastAPI:
    app = FastAPI(lifespan=lifespan)

    @app.post("/enqueue")
    async def enqueue(queue: QueueDep) -> dict[str, str]:
        info = await queue.enqueue("thing:do", {"n": 1})
        return {"id": info.id, "queue_type": type(queue).__name__}

    return app


async def post(app: FastAPI) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        return await client.post("/enqueue")


async def test_lifespan_hands_the_queue_to_endpoints_and_closes_it() -> None:
    recording = RecordingQueue()
    app = make_app(queue_lifespan(recording))
    async with app.router.lifespan_context(app):
        assert app.state.queue is recording
        response = await post(app)
        assert recording.closed is False
    assert response.status_code == 200
    assert response.json()["id"] == recording.jobs[0].info.id
    recording.assert_enqueued("thing:do", count=1, n=1)
    assert recording.closed is True
    assert not hasattr(app.state, "queue")  # no closed queue left behind for late requests


async def test_lifespan_starts_a_job_queue_built_by_a_factory() -> None:
    made: list[SpyQueue] = []

    def factory() -> SpyQueue:
        made.append(SpyQueue())
        return made[0]

    app = make_app(queue_lifespan(factory))
    assert made == []  # nothing connects before the app starts
    async with app.router.lifespan_context(app):
        (queue,) = made
        assert queue.calls == ["start"]
        assert (await post(app)).json()["queue_type"] == "SpyQueue"
    assert queue.calls == ["start", "close"]
    with pytest.raises(QueueClosedError):
        await queue.enqueue("thing:do", {})


async def test_container_resources_open_before_the_queue_and_close_after_it() -> None:
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
    app = make_app(queue_lifespan(container.core.queue, container=container))
    async with app.router.lifespan_context(app):
        assert events == ["database opened"]
        queue = app.state.queue
        assert isinstance(queue, JobQueue)  # the provider's async resource was awaited
        assert queue is await container.core.queue()  # the container's own instance
        assert (await post(app)).status_code == 200
    assert events == ["database opened", "database closed"]
    with pytest.raises(QueueClosedError):
        await queue.enqueue("thing:do", {})


async def test_an_app_without_the_lifespan_says_what_is_missing() -> None:
    with pytest.raises(RuntimeError, match="queue_lifespan"):
        await post(make_app())


async def test_the_dependency_can_be_overridden_in_tests() -> None:
    app = make_app()
    recording = RecordingQueue()
    app.dependency_overrides[get_queue] = lambda: recording
    assert (await post(app)).status_code == 200
    recording.assert_enqueued("thing:do", count=1)
