"""Dependency injection: markers resolved in workers, overrides, class handlers, payloads."""

from __future__ import annotations

import asyncio
from typing import Protocol

import httpx
import pytest
from dependency_injector import containers, providers
from dependency_injector.wiring import Provide
from pydantic import BaseModel, SecretStr

from jobqueue import JobQueue, JobRegistry, JobType, PayloadError, QueueSettings
from jobqueue.cache import Cache, MemoryCache
from jobqueue.di import QueueContainer, attach_container
from jobqueue.redis import RedisJobBroker
from jobqueue.settings import CacheSettings
from jobqueue.testing import run_worker


class Greet(BaseModel):
    user_id: int
    greeting: str = "hello"


class UserRepo(Protocol):
    async def name_of(self, user_id: int) -> str: ...


class DictRepo:
    def __init__(self, names: dict[int, str]) -> None:
        self.names = names

    async def name_of(self, user_id: int) -> str:
        return self.names[user_id]


class Container(containers.DeclarativeContainer):
    core = providers.Container(QueueContainer)
    users = providers.Singleton(DictRepo, names={1: "Ada"})


GREET = JobType("user:greet", Greet)
seen: list[str] = []
registry = JobRegistry()


@registry.job(GREET, max_retry=0)
async def greet(
    payload: Greet,
    users: UserRepo = Provide[Container.users],
    cache: Cache = Provide[Container.core.cache],
) -> None:
    name = await users.name_of(payload.user_id)
    await cache.set(f"greeted:{payload.user_id}", name, ttl=60)
    seen.append(f"{payload.greeting} {name}")


class GreetJob:
    """The class-based form: dependencies in the constructor."""

    def __init__(self, users: UserRepo) -> None:
        self.users = users

    async def handle(self, payload: Greet) -> None:
        seen.append(f"class {await self.users.name_of(payload.user_id)}")


async def _until(predicate: object, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if callable(predicate) and predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


@pytest.fixture
def container(settings: QueueSettings) -> Container:
    seen.clear()
    container = Container()
    container.core.settings.override(settings)
    container.core.cache_settings.override(CacheSettings(driver="memory"))
    return container


async def test_markers_resolve_in_the_worker_and_overrides_apply(
    settings: QueueSettings, container: Container
) -> None:
    worker = RedisJobBroker(settings, registry=registry)
    attach_container(worker, container)
    fake = DictRepo({1: "Fake Ada"})
    async with JobQueue(RedisJobBroker(settings, registry=registry)) as queue:
        await queue.enqueue(GREET, Greet(user_id=1))
        async with run_worker(worker):
            await _until(lambda: len(seen) == 1)
            with container.users.override(fake):
                await queue.enqueue(GREET, {"user_id": 1, "greeting": "hi"})
                await _until(lambda: len(seen) == 2)
            cache = await container.core.cache()
            assert isinstance(cache, MemoryCache)
            assert await cache.get("greeted:1") == "Fake Ada"
    assert seen == ["hello Ada", "hi Fake Ada"]


async def test_class_based_handler_built_by_a_provider(
    settings: QueueSettings, container: Container
) -> None:
    jobs = JobRegistry()
    jobs.register("user:greet-class", providers.Factory(GreetJob, users=container.users))
    async with JobQueue(RedisJobBroker(settings, registry=jobs)) as queue:
        with pytest.raises(PayloadError) as info:  # payload type read from GreetJob.handle
            await queue.enqueue("user:greet-class", {"user_id": "not a number"})
        assert info.value.field == "payload.user_id"
        await queue.enqueue("user:greet-class", Greet(user_id=1))
        async with run_worker(RedisJobBroker(settings, registry=jobs)):
            await _until(lambda: seen == ["class Ada"])


async def test_invalid_payload_is_refused_at_enqueue_naming_the_field(
    settings: QueueSettings,
) -> None:
    async with JobQueue(RedisJobBroker(settings, registry=registry)) as queue:
        with pytest.raises(PayloadError, match=r"payload\.user_id") as info:
            await queue.enqueue("user:greet", {"greeting": "hi"})
        assert info.value.field == "payload.user_id"
        keys = queue.broker.keys["default"]  # type: ignore[attr-defined]
        assert await queue.broker.client.llen(keys.pending) == 0  # type: ignore[attr-defined]


async def test_invalid_payload_reaching_a_worker_goes_to_dead(
    settings: QueueSettings, container: Container
) -> None:
    # A producer without the job's code cannot validate: the worker must refuse it, not retry.
    async with JobQueue(RedisJobBroker(settings)) as queue:
        info = await queue.enqueue("user:greet", {"user_id": "x"})
        worker = RedisJobBroker(settings, registry=registry)
        attach_container(worker, container)
        async with run_worker(worker):
            keys = worker.keys["default"]
            for _ in range(300):
                if await worker.client.zscore(keys.dead, info.id) is not None:
                    break
                await asyncio.sleep(0.01)
            error = await worker.client.hget(keys.job(info.id), "error")
    assert error is not None
    assert b"invalid payload" in error
    assert b"payload.user_id" in error
    assert seen == []


async def test_http_client_resource_uses_the_injected_transport(
    settings: QueueSettings, jobqueue_redis_url: str
) -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        return httpx.Response(202, json={"ok": True})

    core = QueueContainer()
    # Every resource starts with init_resources: the queue and the cache use the private Redis.
    core.settings.override(settings)
    core.cache_settings.override(
        CacheSettings(url=SecretStr(jobqueue_redis_url), key_prefix=f"{settings.key_prefix}-cache")
    )
    core.http_transport.override(httpx.MockTransport(handler))
    await core.init_resources(providers.Resource)  # type: ignore[arg-type]
    try:
        client = await core.http_client()
        response = await client.post("https://email.invalid/send", json={"to": "a"})
        assert response.status_code == 202
    finally:
        await core.shutdown_resources()
    assert calls == ["https://email.invalid/send"]
