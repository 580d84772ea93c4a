"""The example app (examples/app): its jobs with overridden providers, and its two HTTP APIs.

Jobs run through the registry the worker uses, with the container's providers overridden: a fake
repository, a `MemoryCache` on a fake clock, and an `httpx.MockTransport`. The APIs run with a
`RecordingQueue` in place of the queue and a real SQLite database in a temporary directory.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp.test_utils import TestServer
from dependency_injector import providers
from examples.app import aiohttp_app, fastapi_app
from examples.app.containers import Container
from examples.app.jobs import email, report, sync, webhook
from examples.app.jobs.registry import build_registry
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

from jobqueue import JobRegistry, JobState, PermanentError
from jobqueue.cache import MemoryCache
from jobqueue.testing import RecordingQueue

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
    container.core.cache.override(providers.Object(cache))
    container.core.http_transport.override(providers.Object(httpx.MockTransport(partner.handle)))
    return container


# -- jobs ---------------------------------------------------------------------------------------


@pytest.fixture
async def run_job(container: Container) -> AsyncIterator[Callable[[str, Any], Any]]:
    """Run a job type's registered handler, as the worker does, with the container wired."""
    container.users.override(providers.Object(FakeUsers(ADA, ALAN)))
    registry: JobRegistry = build_registry(container)
    container.wire(modules=registry.modules())
    await container.init_resources()  # type: ignore[misc]
    try:

        async def run(job_type: str, payload: Any) -> Any:
            spec = registry.get(job_type)
            assert spec is not None
            if spec.func is None:  # class-based: the provider builds the handler
                return await spec.provider().handle(payload)
            return await spec.func(payload)

        yield run
    finally:
        await container.shutdown_resources()  # type: ignore[misc]
        container.unwire()


WELCOME = SendEmail(user_id=1, to="ada@example.com", subject="Welcome!", body="Hello Ada")


async def test_email_job_posts_to_the_email_api_and_remembers_it_for_an_hour(
    run_job: Any, partner: Partner, cache: MemoryCache, clock: Clock
) -> None:
    await run_job(SEND_EMAIL.name, WELCOME)
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
    run_job: Any, partner: Partner, cache: MemoryCache
) -> None:
    await cache.set(email.SENT_KEYS.build("sent", 1, "Welcome!"), "sent")
    await run_job(SEND_EMAIL.name, WELCOME)
    assert partner.requests == []


async def test_email_job_for_a_missing_user_fails_for_good(run_job: Any, partner: Partner) -> None:
    with pytest.raises(PermanentError, match="user 99"):
        await run_job(SEND_EMAIL.name, WELCOME.model_copy(update={"user_id": 99}))
    assert partner.requests == []


@pytest.mark.parametrize(
    ("status", "error"),
    [(400, PermanentError), (429, httpx.HTTPStatusError), (503, httpx.HTTPStatusError)],
)
async def test_email_api_errors_fail_for_good_only_when_a_retry_cannot_help(
    run_job: Any, partner: Partner, cache: MemoryCache, status: int, error: type[Exception]
) -> None:
    partner.status = status
    with pytest.raises(error):
        await run_job(SEND_EMAIL.name, WELCOME)
    assert cache.keys() == []  # not marked sent: a retry sends it


async def test_report_job_stores_the_report_for_a_day(
    run_job: Any, cache: MemoryCache, clock: Clock
) -> None:
    payload = GenerateReport(
        report_id="r1", report_type="signups", start_date=date(2024, 5, 2), end_date=None
    )
    await run_job(GENERATE_REPORT.name, payload)
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


async def test_report_job_follows_an_override_made_after_registration(
    run_job: Any, container: Container, cache: MemoryCache
) -> None:
    # the class-based handler is built by a provider per run, so overrides apply at once
    with container.users.override(providers.Object(FakeUsers())):
        await run_job(GENERATE_REPORT.name, GenerateReport(report_id="r2", report_type="users"))
    stored = await cache.get(report.report_key("r2"))
    assert stored is not None
    assert json.loads(stored)["total_users"] == 0


async def test_sync_job_posts_the_change_and_records_the_status(
    run_job: Any, partner: Partner, cache: MemoryCache
) -> None:
    await run_job(SYNC_DATA.name, SyncData(entity_type="user", entity_id="7", action="updated"))
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
    run_job: Any, partner: Partner, cache: MemoryCache
) -> None:
    partner.status = 500
    with pytest.raises(httpx.HTTPStatusError):
        await run_job(SYNC_DATA.name, SyncData(entity_type="user", entity_id="7", action="deleted"))
    assert await cache.get(sync.status_key("user", "7")) is None


async def test_webhook_job_remembers_the_event(run_job: Any, cache: MemoryCache) -> None:
    event = ProcessWebhook(source="stripe", event_id="evt_1", event="invoice.paid")
    await run_job(PROCESS_WEBHOOK.name, event)
    assert await cache.get(webhook.seen_key("stripe", "evt_1")) == "invoice.paid"


# -- HTTP APIs ------------------------------------------------------------------------------------


@pytest.fixture
def recording(container: Container) -> RecordingQueue:
    # With the registry, the recording checks payloads and applies job defaults like the queue.
    queue = RecordingQueue(registry=build_registry(container))
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
