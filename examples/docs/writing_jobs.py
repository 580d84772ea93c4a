"""Writing jobs: job types with defaults, a function job with markers, a class-based job.

    python examples/docs/writing_jobs.py

Runs the jobs in this process with the memory driver: no Redis, no worker process.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from dependency_injector import containers, providers
from dependency_injector.wiring import Provide
from pydantic import BaseModel, Field
from taskiq.kicker import AsyncKicker

from jobqueue import (
    DuplicateJobError,
    EnqueueOptions,
    JobBroker,
    JobQueue,
    JobRegistry,
    JobType,
    PayloadError,
    PermanentError,
    QueueSettings,
    create_broker,
    fixed_schedule,
)
from jobqueue.cache import Cache, CacheKey
from jobqueue.di import QueueContainer, attach_container
from jobqueue.memory import MemoryJobBroker
from jobqueue.settings import CacheSettings


# --8<-- [start:types]
class SendEmail(BaseModel):
    """The payload of `email:send`: ids and small values, never whole records."""

    user_id: int
    to: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    subject: str


class RebuildStats(BaseModel):
    """The payload of `stats:rebuild`."""

    team_id: int


SEND_EMAIL = JobType("email:send", SendEmail, queue="critical", max_retry=4, timeout=30)
REBUILD_STATS = JobType("stats:rebuild", RebuildStats, queue="low", timeout=120, unique_ttl=600)
# --8<-- [end:types]


class Users(Protocol):
    """What the jobs need from user storage."""

    async def name_of(self, user_id: int) -> str | None:
        """The user's name, or `None`."""
        ...


class DictUsers:
    """`Users` in a dict."""

    def __init__(self) -> None:
        self.names = {1: "Ada", 2: "Alan"}

    async def name_of(self, user_id: int) -> str | None:
        """The user's name, or `None`."""
        return self.names.get(user_id)


# --8<-- [start:class]
class RebuildStatsJob:
    """A class-based job: its dependencies come in through the constructor."""

    def __init__(self, users: Users, cache: Cache) -> None:
        self.users = users
        self.cache = cache

    async def handle(self, payload: RebuildStats) -> None:
        """Run one job; the payload type is read from this annotation."""
        names = [await self.users.name_of(user_id) for user_id in (1, 2)]
        await self.cache.set(f"stats:{payload.team_id}", ",".join(filter(None, names)), ttl=3600)


# --8<-- [end:class]


# --8<-- [start:container]
class Container(containers.DeclarativeContainer):
    """The app's providers, with jobqueue's queue, cache and HTTP client under `core`."""

    core = providers.Container(QueueContainer)
    users = providers.Singleton(DictUsers)
    rebuild_stats_job = providers.Factory(RebuildStatsJob, users=users, cache=core.cache)


# --8<-- [end:container]

# --8<-- [start:function]
registry = JobRegistry()
SENT = CacheKey("email")


@registry.job(SEND_EMAIL, retry_delay=fixed_schedule(30, 60, 300, 600))
async def send_email(
    payload: SendEmail,
    users: Users = Provide[Container.users],
    cache: Cache = Provide[Container.core.cache],
) -> None:
    name = await users.name_of(payload.user_id)
    if name is None:
        raise PermanentError(f"user {payload.user_id} does not exist")  # no retry can help
    await cache.set(SENT.build(payload.user_id, payload.subject), f"sent to {name}", ttl=3600)


# --8<-- [end:function]

# --8<-- [start:register]
registry.register(REBUILD_STATS, Container.rebuild_stats_job)
# --8<-- [end:register]


# --8<-- [start:worker]
def make_broker(container: Container | None = None) -> JobBroker:
    """`taskiq worker app.worker:make_broker`; tests pass a container with overrides."""
    container = container if container is not None else Container()
    broker = create_broker(container.core.settings(), registry=registry)
    attach_container(broker, container)  # wiring and resources in each worker process
    return broker


# --8<-- [end:worker]


async def main() -> None:
    container = Container()
    container.core.settings.override(QueueSettings(driver="memory", completed_retention=60))
    container.core.cache_settings.override(CacheSettings(driver="memory"))
    broker = make_broker(container)
    assert isinstance(broker, MemoryJobBroker)
    async with JobQueue(broker) as queue:
        # --8<-- [start:enqueue]
        info = await queue.enqueue(
            SEND_EMAIL, SendEmail(user_id=1, to="ada@example.com", subject="Hi")
        )
        print(info.queue, info.max_retry, info.timeout)  # critical 4 30.0: the JobType's defaults

        body: dict[str, Any] = {"user_id": 1, "to": "nobody", "subject": "Hi"}  # e.g. from JSON
        try:
            await queue.enqueue("email:send", body)  # by name: mypy cannot check it, the queue does
        except PayloadError as exc:
            print(exc.field)  # payload.to: nothing was stored
        # --8<-- [end:enqueue]
        assert (info.queue, info.max_retry, info.timeout) == ("critical", 4, 30.0)

        # --8<-- [start:worker-check]
        # A producer that skips jobqueue's check (here: Taskiq's own kicker, as a service on
        # plain Taskiq or an out-of-date deploy would send it): the worker refuses the payload.
        kicker: AsyncKicker[Any, Any] = AsyncKicker("email:send", broker, {})
        old = await kicker.kiq({"user_id": 1, "to": "a@example.com"})
        await broker.wait_idle()
        record = broker.job(old.task_id)
        assert record is not None
        print(record["state"], record["retried"])  # dead 0: not retried
        print(record["error"])  # invalid payload for 'email:send': payload.subject: Field required
        # --8<-- [end:worker-check]
        assert (record["state"], record["retried"]) == ("dead", 0)
        assert "payload.subject" in record["error"]

        refused = ""
        # --8<-- [start:unique]
        await queue.enqueue(REBUILD_STATS, RebuildStats(team_id=7))
        await broker.wait_idle()
        cache = await container.core.cache()
        print(await cache.get("stats:7"))  # Ada,Alan

        # Debounce: at most one rebuild waiting per team; unique_ttl comes from the JobType.
        later = EnqueueOptions(unique=True, delay=60)
        first = await queue.enqueue_with_options(REBUILD_STATS, RebuildStats(team_id=7), later)
        try:
            await queue.enqueue_with_options(REBUILD_STATS, RebuildStats(team_id=7), later)
        except DuplicateJobError as exc:
            refused = exc.existing_id  # the id of the rebuild that is waiting: first.id
        # --8<-- [end:unique]
        assert refused == first.id
        assert await cache.get("stats:7") == "Ada,Alan"
        assert await cache.get(SENT.build(1, "Hi")) == "sent to Ada"
    print("ok")


if __name__ == "__main__":
    asyncio.run(main())
