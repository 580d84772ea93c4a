"""The container: `QueueContainer` composed into an app's container, its settings, its resources.

    python examples/docs/container.py

Runs a job in this process with the memory driver, a memory cache and a mock HTTP transport.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from dependency_injector import containers, providers
from dependency_injector.wiring import Provide

from jobqueue import JobBroker, JobQueue, JobRegistry, JobType, QueueSettings, create_broker
from jobqueue.cache import Cache, CacheKey, open_cache
from jobqueue.di import QueueContainer, attach_container
from jobqueue.http import open_http_client
from jobqueue.memory import MemoryJobBroker
from jobqueue.settings import CacheSettings, HttpSettings

events: list[str] = []


class Database:
    """Stands in for a connection pool."""

    def __init__(self, url: str) -> None:
        self.url = url


# --8<-- [start:compose]
@asynccontextmanager
async def open_database(url: str) -> AsyncIterator[Database]:
    """A resource: opened once per process by `init_resources()`, closed at shutdown."""
    events.append("database opened")
    try:
        yield Database(url)
    finally:
        events.append("database closed")


class GeoClient:
    """Looks up countries through a partner API, caching the answers for a day."""

    KEYS = CacheKey("geo")

    def __init__(self, http: httpx.AsyncClient, cache: Cache) -> None:
        self.http = http
        self.cache = cache

    async def country_of(self, ip: str) -> str:
        """The country code of `ip`."""
        key = self.KEYS.build("ip", ip)  # "geo:ip:<ip>"
        if (cached := await self.cache.get(key)) is not None:
            return cached
        response = await self.http.get(f"https://geo.example.com/ip/{ip}")
        country = str(response.raise_for_status().json()["country"])
        await self.cache.set(key, country, ttl=24 * 3600)
        return country


class Container(containers.DeclarativeContainer):
    """The app's providers; jobqueue's settings, queue, cache and HTTP client under `core`."""

    core = providers.Container(QueueContainer)
    database = providers.Resource(open_database, url="postgresql://db.internal/app")
    geo = providers.Factory(GeoClient, http=core.http_client, cache=core.cache)


# --8<-- [end:compose]

registry = JobRegistry()
LOCATE = JobType("login:locate", dict[str, str])


@registry.job(LOCATE)
async def locate_login(payload: dict[str, str], geo: GeoClient = Provide[Container.geo]) -> None:
    """Record where a login came from."""
    events.append(f"{payload['user']} logged in from {await geo.country_of(payload['ip'])}")


# --8<-- [start:worker]
def make_broker(container: Container | None = None) -> JobBroker:
    """The worker factory: `taskiq worker app.worker:make_broker`."""
    container = container if container is not None else Container()
    broker = create_broker(container.core.settings(), registry=registry)
    attach_container(broker, container)
    return broker


# --8<-- [end:worker]


def geo_api(request: httpx.Request) -> httpx.Response:
    events.append(f"GET {request.url.path}")
    return httpx.Response(200, json={"country": "NZ"})


async def main() -> None:
    # --8<-- [start:override]
    container = Container()
    container.core.settings.override(QueueSettings(driver="memory"))  # instead of QUEUE_*
    container.core.cache_settings.override(CacheSettings(driver="memory"))  # instead of CACHE_*
    container.core.http_settings.override(HttpSettings(timeout=3.0))  # instead of HTTP_*
    container.core.http_transport.override(httpx.MockTransport(geo_api))  # no real requests
    # --8<-- [end:override]

    broker = make_broker(container)
    assert isinstance(broker, MemoryJobBroker)
    async with JobQueue(broker) as queue:  # the memory driver runs the worker start-up here
        for _ in range(2):  # one after the other: the second finds the answer in the cache
            await queue.enqueue(LOCATE, {"user": "ada", "ip": "203.0.113.9"})
            await broker.wait_idle()
    print(json.dumps(events, indent=2))
    assert events == [
        "database opened",
        "GET /ip/203.0.113.9",  # once
        "ada logged in from NZ",
        "ada logged in from NZ",
        "database closed",
    ]

    # --8<-- [start:standalone]
    async with (
        open_cache(CacheSettings(driver="memory")) as cache,
        open_http_client(HttpSettings(), transport=httpx.MockTransport(geo_api)) as http,
    ):
        geo = GeoClient(http, cache)
        assert await geo.country_of("198.51.100.1") == "NZ"
        assert await cache.exists("geo:ip:198.51.100.1")
        assert await cache.delete("geo:ip:198.51.100.1")
    # --8<-- [end:standalone]
    print("ok")


if __name__ == "__main__":
    asyncio.run(main())
