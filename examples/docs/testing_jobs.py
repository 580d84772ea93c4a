"""Testing jobs and the code that enqueues them: fakes, a recording queue, the pipeline in-process.

    python examples/docs/testing_jobs.py

runs this file with pytest. The first part is the application (usually in its own modules); the
tests follow. Only the last test uses Redis: the plugin's private server for the session.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Protocol

import pytest
from dependency_injector import containers, providers
from dependency_injector.wiring import Provide
from pydantic import BaseModel

from jobqueue import (
    DuplicateJobError,
    EnqueueOptions,
    JobBroker,
    JobQueue,
    JobRegistry,
    JobType,
    PayloadError,
    PermanentError,
    Queue,
    QueueSettings,
    UnknownQueueError,
    create_broker,
    fixed_schedule,
)
from jobqueue.cache import Cache
from jobqueue.di import QueueContainer, attach_container
from jobqueue.memory import MemoryJobBroker
from jobqueue.settings import CacheSettings
from jobqueue.testing import RecordingQueue, run_worker

# -- the application ------------------------------------------------------------------------------


class Welcome(BaseModel):
    """The payload of `email:welcome`."""

    user_id: int


class Reindex(BaseModel):
    """The payload of `search:reindex`."""

    index: str


WELCOME = JobType("email:welcome", Welcome, max_retry=3)
REINDEX = JobType("search:reindex", Reindex, queue="low", unique_ttl=600)


class Mailer(Protocol):
    """Sends email."""

    async def send(self, to: str, subject: str) -> None:
        """Send one message."""
        ...


class SmtpMailer:
    """The real one: never reached in these tests."""

    async def send(self, to: str, subject: str) -> None:
        """Send one message."""
        raise RuntimeError("no SMTP in tests")


class Container(containers.DeclarativeContainer):
    """The app's providers."""

    core = providers.Container(QueueContainer)
    addresses = providers.Object({1: "ada@example.com"})
    mailer = providers.Singleton(SmtpMailer)


registry = JobRegistry()


@registry.job(WELCOME, retry_delay=fixed_schedule(30, 300))
async def send_welcome(
    payload: Welcome,
    addresses: dict[int, str] = Provide[Container.addresses],
    mailer: Mailer = Provide[Container.mailer],
) -> None:
    """Send the welcome email."""
    to = addresses.get(payload.user_id)
    if to is None:
        raise PermanentError(f"no address for user {payload.user_id}")
    await mailer.send(to, "Welcome!")


@registry.job(REINDEX)
async def reindex(payload: Reindex, cache: Cache = Provide[Container.core.cache]) -> None:
    """Rebuild a search index."""
    await cache.set(f"reindexed:{payload.index}", "yes")


def make_broker(container: Container | None = None) -> JobBroker:
    """The worker factory."""
    container = container if container is not None else Container()
    broker = create_broker(container.core.settings(), registry=registry)
    attach_container(broker, container)
    return broker


async def sign_up(queue: Queue, user_id: int) -> None:
    """Application code that enqueues: it depends on the `Queue` protocol only."""
    await queue.enqueue(WELCOME, Welcome(user_id=user_id))
    await queue.enqueue_with_options(REINDEX, Reindex(index="users"), EnqueueOptions(unique=True))


# -- the tests ------------------------------------------------------------------------------------


# --8<-- [start:recording]
async def test_sign_up_enqueues_the_welcome_email_and_one_reindex() -> None:
    queue = RecordingQueue()  # records, runs nothing; checks what the real queue checks
    await sign_up(queue, user_id=1)
    queue.assert_enqueued(WELCOME, count=1, user_id=1)
    (job,) = queue.of_type(REINDEX)
    assert (job.info.queue, job.options.unique) == ("low", True)  # the JobType's queue
    with pytest.raises(DuplicateJobError):  # the reindex is still "waiting"
        await sign_up(queue, user_id=2)
    with pytest.raises(PayloadError):
        await queue.enqueue(WELCOME, {"user_id": "ada"})
    with pytest.raises(UnknownQueueError):
        await queue.enqueue_with_options(WELCOME, Welcome(user_id=1), EnqueueOptions(queue="x"))


# --8<-- [end:recording]


# --8<-- [start:fakes]
class FakeMailer:
    """Records messages; fails the first `failures` sends."""

    def __init__(self, failures: int = 0) -> None:
        self.sent: list[tuple[str, str]] = []
        self.failures = failures

    async def send(self, to: str, subject: str) -> None:
        """Record the message, or fail."""
        if self.failures:
            self.failures -= 1
            raise ConnectionError("mail server unavailable")
        self.sent.append((to, subject))


@pytest.fixture
def mailer() -> FakeMailer:
    return FakeMailer()


@pytest.fixture
def container(mailer: FakeMailer) -> Container:
    container = Container()
    container.core.settings.override(QueueSettings(driver="memory", completed_retention=60))
    container.core.cache_settings.override(CacheSettings(driver="memory"))
    container.mailer.override(providers.Object(mailer))
    return container


# --8<-- [end:fakes]


# --8<-- [start:pipeline]
@pytest.fixture
def broker(container: Container) -> MemoryJobBroker:
    broker = make_broker(container)  # the worker's own factory, on the memory driver
    assert isinstance(broker, MemoryJobBroker)
    return broker


@pytest.fixture
async def queue(broker: MemoryJobBroker) -> AsyncIterator[JobQueue]:
    async with JobQueue(broker) as queue:  # starting it runs the worker start-up here
        yield queue


async def test_the_welcome_email_is_sent(
    queue: JobQueue, broker: MemoryJobBroker, mailer: FakeMailer
) -> None:
    await sign_up(queue, user_id=1)
    await broker.wait_idle()
    assert mailer.sent == [("ada@example.com", "Welcome!")]


async def test_a_failed_send_is_retried_30_seconds_later(
    queue: JobQueue, broker: MemoryJobBroker, mailer: FakeMailer
) -> None:
    mailer.failures = 1
    info = await queue.enqueue(WELCOME, Welcome(user_id=1))
    await broker.wait_idle()  # the first attempt is over; the retry waits
    record = broker.job(info.id)
    assert record is not None
    assert (record["state"], record["retried"]) == ("retry", 1)
    assert record["error"] == "ConnectionError: mail server unavailable"
    assert record["process_at"] - record["failed_at"] == pytest.approx(30, abs=0.1)


async def test_an_unknown_user_goes_to_dead_without_retries(
    queue: JobQueue, broker: MemoryJobBroker
) -> None:
    info = await queue.enqueue(WELCOME, Welcome(user_id=99))
    await broker.wait_idle()
    record = broker.job(info.id)
    assert record is not None
    assert (record["state"], record["retried"]) == ("dead", 0)
    assert broker.stats() == {"processed": 0, "failed": 1, "dead": 1}


async def test_a_reindex_is_unique_until_it_has_run(
    queue: JobQueue, broker: MemoryJobBroker, container: Container
) -> None:
    once = EnqueueOptions(unique=True)
    await queue.enqueue_with_options(REINDEX, Reindex(index="users"), once)
    with pytest.raises(DuplicateJobError):
        await queue.enqueue_with_options(REINDEX, Reindex(index="users"), once)
    await broker.wait_idle()
    cache = await container.core.cache()
    assert await cache.get("reindexed:users") == "yes"
    await queue.enqueue_with_options(REINDEX, Reindex(index="users"), once)  # lock released


# --8<-- [end:pipeline]


# --8<-- [start:direct]
async def test_the_handler_called_directly(container: Container, mailer: FakeMailer) -> None:
    container.wire(modules=[sys.modules[__name__]])  # what the worker start-up does
    try:
        with container.addresses.override({1: "grace@example.com"}):
            await send_welcome(Welcome(user_id=1))
        with pytest.raises(PermanentError):
            await send_welcome(Welcome(user_id=2))
    finally:
        container.unwire()
    assert mailer.sent == [("grace@example.com", "Welcome!")]


# --8<-- [end:direct]


# --8<-- [start:redis]
async def test_with_redis_and_a_worker(
    container: Container, mailer: FakeMailer, jobqueue_settings: QueueSettings
) -> None:
    container.core.settings.override(jobqueue_settings)  # the session's Redis, a fresh prefix
    async with (
        JobQueue(create_broker(jobqueue_settings)) as queue,  # a producer without the registry
        run_worker(make_broker(container)),  # a worker in this event loop
    ):
        await queue.enqueue(WELCOME, Welcome(user_id=1))
        for _ in range(500):
            if mailer.sent:
                break
            await asyncio.sleep(0.01)
    assert mailer.sent == [("ada@example.com", "Welcome!")]


# --8<-- [end:redis]


if __name__ == "__main__":
    command = [sys.executable, "-m", "pytest", __file__, "-q", "-p", "no:cacheprovider"]
    raise SystemExit(subprocess.run(command, check=False).returncode)
