"""The example app (examples/app): its jobs run as the worker runs them, and its two HTTP APIs.

Jobs run through the worker's own `make_broker(container)` on the memory driver: enqueued with
the app's `JobType`s, validated, run in this process with the container wired and its providers
overridden (a fake repository, a `MemoryCache` on a fake clock, an `httpx.MockTransport`), then
retried or sent to dead as in production. The APIs run with a `RecordingQueue` in place of the
queue and a real SQLite database in a temporary directory.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from aiohttp.test_utils import TestServer
from dependency_injector import providers
from examples.app import aiohttp_app, fastapi_app
from examples.app.containers import Container
from examples.app.jobs import email, report, sync, webhook
from examples.app.jobs.types import (
    GENERATE_REPORT,
    PROCESS_WEBHOOK,
    SEND_EMAIL,
    SYNC_DATA,
    GenerateReport,
    ProcessWebhook,
    SendEmail,
    SyncData,
)
from examples.app.repository import EmailTakenError, User
from examples.app.settings import AppSettings
from examples.app.worker import make_broker

from jobqueue import JobQueue, JobState, JobType, PayloadError, PermanentError, QueueSettings
from jobqueue.cache import MemoryCache
from jobqueue.memory import MemoryJobBroker
from jobqueue.testing import RecordingQueue

P = TypeVar("P")
ROOT = Path(__file__).resolve().parents[1]
ADA = User(id=1, name="Ada", email="ada@example.com", created_at=datetime(2024, 5, 1, tzinfo=UTC))
ALAN = User(
    id=2, name="Alan", email="alan@example.com", created_at=datetime(2024, 5, 3, tzinfo=UTC)
)
HOUR = 3600.0


class FakeUsers:
    """A `UserRepository` in a dict."""

    def __init__(self, *users: User) -> None:
        self.users = {user.id: user for user in users}

    async def create(self, name: str, email: str) -> User:
        if any(user.email == email for user in self.users.values()):
            raise EmailTakenError(email)
        user = User(id=len(self.users) + 1, name=name, email=email, created_at=datetime.now(UTC))
        self.users[user.id] = user
        return user

    async def get(self, user_id: int) -> User | None:
        return self.users.get(user_id)

    async def get_all(self) -> list[User]:
        return list(self.users.values())


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Partner:
    """The partner APIs behind an `httpx.MockTransport`: records requests, answers `status`."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.status = 202

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status, json={})

    def bodies(self) -> list[Any]:
        return [json.loads(request.content) for request in self.requests]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache(clock: Clock) -> MemoryCache:
    return MemoryCache(clock=clock)


@pytest.fixture
def partner() -> Partner:
    return Partner()


@pytest.fixture
def container(tmp_path: Path, cache: MemoryCache, partner: Partner) -> Container:
    container = Container()
    container.settings.override(
        AppSettings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'app.db'}",
            email_api_url="https://email.test/send",
            sync_api_url="https://sync.test/changes",
        )
    )
    # The memory driver: `core.queue` (opened with the other resources) needs no Redis.
    container.core.settings.override(QueueSettings(driver="memory", completed_retention=60))
    container.core.cache.override(providers.Object(cache))
    container.core.http_transport.override(providers.Object(httpx.MockTransport(partner.handle)))
    return container


# -- jobs ---------------------------------------------------------------------------------------


class Worker:
    """The app's worker broker, run in this process: enqueue, wait until idle, read the record."""

    def __init__(self, queue: JobQueue, broker: MemoryJobBroker) -> None:
        self.queue = queue
        self.broker = broker

    async def run(self, job_type: JobType[P], payload: P) -> dict[str, Any]:
        info = await self.queue.enqueue(job_type, payload)
        await self.broker.wait_idle()  # the attempt is over: completed, dead or waiting to retry
        record = self.broker.job(info.id)
        assert record is not None
        return record


@pytest.fixture
async def worker(container: Container) -> AsyncIterator[Worker]:
    """`make_broker(container)` as `taskiq worker` calls it, on the memory driver."""
    container.users.override(providers.Object(FakeUsers(ADA, ALAN)))
    broker = make_broker(container)
    assert isinstance(broker, MemoryJobBroker)
    # Starting the queue starts the broker, which runs the worker start-up in this process:
    # the container is wired to the job modules and its resources are opened.
    async with JobQueue(broker) as queue:
        yield Worker(queue, broker)


WELCOME = SendEmail(user_id=1, to="ada@example.com", subject="Welcome!", body="Hello Ada")


async def test_email_job_posts_to_the_email_api_and_remembers_it_for_an_hour(
    worker: Worker, partner: Partner, cache: MemoryCache, clock: Clock
) -> None:
    record = await worker.run(SEND_EMAIL, WELCOME)
    assert record["state"] == "completed"
    (request,) = partner.requests
    assert str(request.url) == "https://email.test/send"
    assert partner.bodies() == [
        {"to": "ada@example.com", "name": "Ada", "subject": "Welcome!", "body": "Hello Ada"}
    ]
    key = email.SENT_KEYS.build("sent", 1, "Welcome!")
    assert request.headers["Idempotency-Key"] == key
    assert await cache.get(key) == "sent"
    clock.now += HOUR - 1
    assert await cache.exists(key)
    clock.now += 2
    assert not await cache.exists(key)


async def test_email_job_skips_when_the_cache_says_it_was_sent(
    worker: Worker, partner: Partner, cache: MemoryCache
) -> None:
    await cache.set(email.SENT_KEYS.build("sent", 1, "Welcome!"), "sent")
    assert (await worker.run(SEND_EMAIL, WELCOME))["state"] == "completed"
    assert partner.requests == []


async def test_email_job_for_a_missing_user_goes_to_dead_at_once(
    worker: Worker, partner: Partner
) -> None:
    record = await worker.run(SEND_EMAIL, WELCOME.model_copy(update={"user_id": 99}))
    assert (record["state"], record["retried"]) == ("dead", 0)
    assert record["error"] == "permanent: PermanentError: user 99 does not exist"
    assert partner.requests == []


@pytest.mark.parametrize(
    ("status", "state", "error"),
    [
        (400, "dead", "permanent: PermanentError"),
        (429, "retry", "HTTPStatusError"),
        (503, "retry", "HTTPStatusError"),
    ],
)
async def test_email_api_errors_fail_for_good_only_when_a_retry_cannot_help(
    worker: Worker, partner: Partner, cache: MemoryCache, status: int, state: str, error: str
) -> None:
    partner.status = status
    record = await worker.run(SEND_EMAIL, WELCOME)
    assert record["state"] == state
    assert record["error"].startswith(error)
    assert cache.keys() == []  # not marked sent: a retry sends it


async def test_an_invalid_payload_is_refused_before_it_is_stored(worker: Worker) -> None:
    with pytest.raises(PayloadError) as info:
        await worker.queue.enqueue("email:send", {**WELCOME.model_dump(), "to": "nobody"})
    assert info.value.field == "payload.to"
    assert worker.broker.stats() == {"processed": 0, "failed": 0, "dead": 0}


async def test_report_job_stores_the_report_for_a_day(
    worker: Worker, cache: MemoryCache, clock: Clock
) -> None:
    payload = GenerateReport(
        report_id="r1", report_type="signups", start_date=date(2024, 5, 2), end_date=None
    )
    record = await worker.run(GENERATE_REPORT, payload)
    # the defaults declared on the JobType
    assert (record["queue"], record["max_retry"], record["timeout"]) == ("low", 2, 120)
    stored = await cache.get(report.report_key("r1"))
    assert stored is not None
    data = json.loads(stored)
    # the fake repository (an override) was used: only Alan signed up on or after May 2
    assert data["total_users"] == 1
    assert data["signups_per_day"] == {"2024-05-03": 1}
    assert (data["report_id"], data["report_type"], data["status"]) == (
        "r1",
        "signups",
        "completed",
    )
    clock.now += 24 * HOUR + 1
    assert await cache.get(report.report_key("r1")) is None


async def test_report_job_follows_an_override_made_while_the_worker_runs(
    worker: Worker, container: Container, cache: MemoryCache
) -> None:
    # `Container.report_job` runs as this container's `report_job`, built anew for each run
    with container.users.override(providers.Object(FakeUsers())):
        await worker.run(GENERATE_REPORT, GenerateReport(report_id="r2", report_type="users"))
    stored = await cache.get(report.report_key("r2"))
    assert stored is not None
    assert json.loads(stored)["total_users"] == 0


async def test_sync_job_posts_the_change_and_records_the_status(
    worker: Worker, partner: Partner, cache: MemoryCache
) -> None:
    change = SyncData(entity_type="user", entity_id="7", action="updated")
    assert (await worker.run(SYNC_DATA, change))["state"] == "completed"
    (body,) = partner.bodies()
    assert str(partner.requests[0].url) == "https://sync.test/changes"
    assert {k: body[k] for k in ("entity_type", "entity_id", "action")} == {
        "entity_type": "user",
        "entity_id": "7",
        "action": "updated",
    }
    assert datetime.fromisoformat(body["timestamp"]).tzinfo is not None
    status = await cache.get(sync.status_key("user", "7"))
    assert status is not None
    assert json.loads(status)["status"] == "synced"
    assert json.loads(status)["synced_at"] == body["timestamp"]


async def test_sync_job_records_nothing_when_the_api_fails(
    worker: Worker, partner: Partner, cache: MemoryCache
) -> None:
    partner.status = 500
    change = SyncData(entity_type="user", entity_id="7", action="deleted")
    record = await worker.run(SYNC_DATA, change)
    assert (record["state"], record["retried"]) == ("retry", 1)
    assert await cache.get(sync.status_key("user", "7")) is None


async def test_webhook_job_remembers_the_event(worker: Worker, cache: MemoryCache) -> None:
    event = ProcessWebhook(source="stripe", event_id="evt_1", event="invoice.paid")
    assert (await worker.run(PROCESS_WEBHOOK, event))["state"] == "completed"
    assert await cache.get(webhook.seen_key("stripe", "evt_1")) == "invoice.paid"


async def test_a_job_function_called_directly_once_the_container_is_wired(
    container: Container, partner: Partner
) -> None:
    # A unit test of one handler, without a queue: wire its module, open the resources, call it.
    container.users.override(providers.Object(FakeUsers(ADA)))
    container.wire(modules=[email])
    await container.init_resources()  # type: ignore[misc]
    try:
        with pytest.raises(PermanentError, match="user 99"):
            await email.send_email(WELCOME.model_copy(update={"user_id": 99}))
        await email.send_email(WELCOME)
    finally:
        await container.shutdown_resources()  # type: ignore[misc]
        container.unwire()
    assert len(partner.requests) == 1


def test_the_worker_factory_registers_every_job_type() -> None:
    broker = make_broker()  # as `taskiq worker` calls it: nothing connects before start-up
    names = {SEND_EMAIL.name, GENERATE_REPORT.name, SYNC_DATA.name, PROCESS_WEBHOOK.name}
    assert set(broker.job_specs) == names


def test_the_api_imports_no_handler() -> None:
    # The JobTypes carry payload types and defaults: the API needs neither registry nor handlers.
    code = (
        "import sys, examples.app.fastapi_app, examples.app.aiohttp_app; "
        "print(sorted(m for m in sys.modules if m.startswith('examples.app.jobs')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    loaded = set(ast.literal_eval(done.stdout))
    assert loaded == {"examples.app.jobs", "examples.app.jobs.types", "examples.app.jobs.report"}


# -- HTTP APIs ------------------------------------------------------------------------------------


@pytest.fixture
def recording(container: Container) -> RecordingQueue:
    # Like the API's queue it has no registry: the JobTypes carry payload types and defaults.
    queue = RecordingQueue()
    container.core.queue.override(providers.Object(queue))
    return queue


@pytest.fixture(params=["fastapi", "aiohttp"])
async def api(
    request: pytest.FixtureRequest, container: Container, recording: RecordingQueue
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the app, started with its lifespan / cleanup context."""
    try:
        if request.param == "fastapi":
            app = fastapi_app.create_app(container)
            transport = httpx.ASGITransport(app=app)
            async with (
                app.router.lifespan_context(app),
                httpx.AsyncClient(transport=transport, base_url="http://app") as client,
            ):
                yield client
        else:
            async with (
                TestServer(aiohttp_app.create_app(container)) as server,
                httpx.AsyncClient(base_url=str(server.make_url(""))) as client,
            ):
                yield client
    finally:
        container.unwire()
    assert recording.closed  # the app closed its queue when it stopped


async def test_post_users_stores_the_user_and_enqueues_the_welcome_email(
    api: httpx.AsyncClient, recording: RecordingQueue, container: Container
) -> None:
    response = await api.post("/users", json={"name": "Grace", "email": "grace@example.com"})
    assert response.status_code == 201, response.text
    user_id = response.json()["user"]["id"]
    stored = await (await container.users()).get(user_id)  # type: ignore[misc]
    assert stored is not None
    assert stored.email == "grace@example.com"
    recording.assert_enqueued(
        SEND_EMAIL, count=1, user_id=user_id, to="grace@example.com", subject="Welcome!"
    )
    (job,) = recording.jobs
    assert response.json()["welcome_email"]["job_id"] == job.info.id
    assert job.info.queue == "default"


async def test_post_users_refuses_a_taken_email_and_sends_no_second_email(
    api: httpx.AsyncClient, recording: RecordingQueue
) -> None:
    body = {"name": "Grace", "email": "grace@example.com"}
    assert (await api.post("/users", json=body)).status_code == 201
    assert (await api.post("/users", json=body)).status_code == 409
    recording.assert_enqueued(SEND_EMAIL, count=1)


async def test_post_jobs_email_enqueues_a_valid_payload_only(
    api: httpx.AsyncClient, recording: RecordingQueue
) -> None:
    bad = await api.post(
        "/jobs/email", json={"user_id": 1, "to": "nobody", "subject": "x", "body": ""}
    )
    assert bad.status_code == 422
    recording.assert_nothing_enqueued()
    body = {"user_id": 1, "to": "ada@example.com", "subject": "Hi", "body": "Hello"}
    response = await api.post("/jobs/email", json=body)
    assert response.status_code == 202
    recording.assert_enqueued(SEND_EMAIL, count=1, **body)


async def test_post_reports_delays_the_job_by_the_default_or_the_requested_time(
    api: httpx.AsyncClient, recording: RecordingQueue
) -> None:
    first = await api.post("/reports", json={"report_type": "signups"})
    second = await api.post("/reports", json={"report_type": "users", "delay_seconds": 2.5})
    assert first.status_code == second.status_code == 202
    default, requested = recording.of_type(GENERATE_REPORT)
    assert default.options.delay == 300  # AppSettings.report_delay
    assert requested.options.delay == 2.5
    assert requested.json["report_type"] == "users"
    assert "delay_seconds" not in requested.json  # a request field, not a job field
    assert second.json()["report_id"] == requested.json["report_id"]
    assert second.json()["state"] == JobState.SCHEDULED
    assert second.json()["queue"] == "low"  # the job type's default queue


async def test_get_report_is_404_until_the_job_has_stored_it(
    api: httpx.AsyncClient, recording: RecordingQueue, cache: MemoryCache
) -> None:
    report_id = (await api.post("/reports", json={"delay_seconds": 0})).json()["report_id"]
    assert (await api.get(f"/reports/{report_id}")).status_code == 404
    await cache.set(report.report_key(report_id), json.dumps({"report_id": report_id, "n": 3}))
    response = await api.get(f"/reports/{report_id}")
    assert response.status_code == 200
    assert response.json() == {"report_id": report_id, "n": 3}


async def test_webhooks_go_to_critical_with_three_retries_and_a_ten_second_timeout(
    api: httpx.AsyncClient, recording: RecordingQueue
) -> None:
    event = {"event_id": "evt_9", "event": "invoice.paid", "data": {"amount": 12}}
    response = await api.post("/webhooks/stripe", json=event)
    assert response.status_code == 202
    (job,) = recording.of_type(PROCESS_WEBHOOK)
    assert job.json == {"source": "stripe", **event}
    assert (job.info.queue, job.options.max_retry, job.options.timeout) == ("critical", 3, 10)
    assert response.json()["queue"] == "critical"


async def test_a_pending_sync_is_not_queued_twice(
    api: httpx.AsyncClient, recording: RecordingQueue
) -> None:
    change = {"entity_type": "user", "entity_id": "1", "action": "created"}
    assert (await api.post("/sync", json=change)).status_code == 202
    assert (await api.post("/sync", json=change)).status_code == 409
    other = {**change, "action": "updated"}
    assert (await api.post("/sync", json=other)).status_code == 202
    assert len(recording.of_type(SYNC_DATA)) == 2
