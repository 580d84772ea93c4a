"""FastAPI: the queue opens with the app's lifespan and reaches endpoints as `QueueDep`.

    python examples/docs/fastapi_integration.py

Serves the app in this process (httpx's ASGI transport) with the memory driver, which also runs
the jobs, and calls its three endpoints.

No `from __future__ import annotations` in this module: dependency-injector's `@inject` finds a
marker inside `Annotated[...]` only in an evaluated annotation.
"""

import asyncio
from typing import Annotated, Any

import httpx
from dependency_injector import containers, providers
from dependency_injector.wiring import Provide, inject
from fastapi import APIRouter, Depends, FastAPI
from pydantic import BaseModel

from jobqueue import EnqueueOptions, JobQueue, JobRegistry, JobType, QueueSettings
from jobqueue.contrib.fastapi import QueueDep, queue_lifespan
from jobqueue.di import QueueContainer
from jobqueue.memory import MemoryJobBroker
from jobqueue.settings import CacheSettings
from jobqueue.testing import RecordingQueue


# --8<-- [start:types]
class Welcome(BaseModel):
    """Send the welcome email to a new user."""

    user_id: int


class Report(BaseModel):
    """Build a report."""

    kind: str


class Webhook(BaseModel):
    """A partner's webhook, processed out of the request."""

    source: str
    event: dict[str, Any]


SEND_WELCOME = JobType("email:welcome", Welcome, max_retry=5, timeout=30)
GENERATE_REPORT = JobType("report:generate", Report, queue="low", timeout=300)
PROCESS_WEBHOOK = JobType("webhook:process", Webhook)
WEBHOOK_OPTIONS = EnqueueOptions(queue="critical", max_retry=3, timeout=10)
"""The partner waits for the answer, and redelivers: jump the line, give up early."""
# --8<-- [end:types]


class NewUser(BaseModel):
    """The body of `POST /users`."""

    email: str


class ReportRequest(BaseModel):
    """The body of `POST /reports`."""

    kind: str = "signups"
    delay_seconds: float = 300.0


class UserStore:
    """Users in a dict (a database in a real app)."""

    def __init__(self) -> None:
        self.emails: dict[int, str] = {}

    async def add(self, email: str) -> int:
        """Store a user; its id."""
        user_id = len(self.emails) + 1
        self.emails[user_id] = email
        return user_id


class Outbox:
    """What the jobs did, for the examples to check."""

    def __init__(self) -> None:
        self.done: list[str] = []


class Container(containers.DeclarativeContainer):
    """The app's providers, with jobqueue's queue, cache and HTTP client under `core`."""

    core = providers.Container(QueueContainer)
    users = providers.Singleton(UserStore)
    outbox = providers.Singleton(Outbox)


registry = JobRegistry()


@registry.job(SEND_WELCOME)
async def send_welcome(
    payload: Welcome,
    users: UserStore = Provide[Container.users],
    outbox: Outbox = Provide[Container.outbox],
) -> None:
    """Send the welcome email."""
    outbox.done.append(f"welcome sent to {users.emails[payload.user_id]}")


@registry.job(GENERATE_REPORT)
async def generate_report(payload: Report, outbox: Outbox = Provide[Container.outbox]) -> None:
    """Build the report."""
    outbox.done.append(f"{payload.kind} report generated")


@registry.job(PROCESS_WEBHOOK)
async def process_webhook(payload: Webhook, outbox: Outbox = Provide[Container.outbox]) -> None:
    """Process the event."""
    outbox.done.append(f"{payload.source} {payload.event['type']} processed")


def run_jobs_in_process(container: Container) -> None:
    """For this example only: the app's own queue runs the jobs, on the memory driver.

    In production the jobs run in `taskiq worker` processes (see "Container": `make_broker`).
    """
    container.core.settings.override(QueueSettings(driver="memory"))
    container.core.cache_settings.override(CacheSettings(driver="memory"))
    container.core.registry.override(registry)


# --8<-- [start:endpoints]
Users = Annotated[UserStore, Depends(Provide[Container.users])]
router = APIRouter()


@router.post("/users", status_code=201)
@inject
async def register_user(body: NewUser, users: Users, queue: QueueDep) -> dict[str, Any]:
    user_id = await users.add(body.email)  # what must be stored now, is stored now
    info = await queue.enqueue(SEND_WELCOME, Welcome(user_id=user_id))  # the rest is a job
    return {"user_id": user_id, "welcome_job": info.id}


@router.post("/reports", status_code=202)
async def request_report(body: ReportRequest, queue: QueueDep) -> dict[str, Any]:
    payload = Report(kind=body.kind)
    info = await queue.enqueue_with_delay(GENERATE_REPORT, payload, body.delay_seconds)
    return {"job_id": info.id, "queue": info.queue, "run_at": info.process_at.isoformat()}


@router.post("/webhooks/{source}", status_code=202)
async def receive_webhook(source: str, event: dict[str, Any], queue: QueueDep) -> dict[str, Any]:
    payload = Webhook(source=source, event=event)
    info = await queue.enqueue_with_options(PROCESS_WEBHOOK, payload, WEBHOOK_OPTIONS)
    return {"job_id": info.id, "queue": info.queue}


# --8<-- [end:endpoints]


# --8<-- [start:app]
def create_app(container: Container) -> FastAPI:
    """`uvicorn --factory app.api:create_app` with a no-argument wrapper, in production."""
    container.wire(modules=[__name__])  # resolves the `Provide[...]` markers above
    # The lifespan opens the container's resources, then the queue; it closes them at shutdown.
    app = FastAPI(lifespan=queue_lifespan(container.core.queue, container=container))
    app.include_router(router)
    return app


# --8<-- [end:app]


async def main() -> None:
    container = Container()
    run_jobs_in_process(container)
    app = create_app(container)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://api") as api,
    ):
        user = await api.post("/users", json={"email": "ada@example.com"})
        report = await api.post("/reports", json={"kind": "signups", "delay_seconds": 0.2})
        hook = await api.post("/webhooks/stripe", json={"type": "invoice.paid", "id": "evt_1"})
        for response in (user, report, hook):
            print(response.status_code, response.json())
        assert (user.status_code, report.status_code, hook.status_code) == (201, 202, 202)
        assert (report.json()["queue"], hook.json()["queue"]) == ("low", "critical")

        queue = app.state.queue
        assert isinstance(queue, JobQueue)
        assert isinstance(queue.broker, MemoryJobBroker)
        await queue.broker.wait_idle(include_scheduled=True)  # the report is due in 0.2 s
    outbox: Outbox = container.outbox()
    print(outbox.done)
    assert sorted(outbox.done) == [
        "signups report generated",
        "stripe invoice.paid processed",
        "welcome sent to ada@example.com",
    ]
    await test_with_a_recording_queue()


async def test_with_a_recording_queue() -> None:
    # --8<-- [start:test]
    recording = RecordingQueue()
    container = Container()
    container.core.queue.override(providers.Object(recording))  # before create_app
    app = create_app(container)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://api") as api,
    ):
        response = await api.post("/webhooks/stripe", json={"type": "invoice.paid"})
    assert response.status_code == 202
    recording.assert_enqueued(PROCESS_WEBHOOK, count=1, source="stripe")
    (job,) = recording.jobs
    assert (job.info.queue, job.info.max_retry, job.info.timeout) == ("critical", 3, 10)
    # --8<-- [end:test]
    assert recording.closed


if __name__ == "__main__":
    asyncio.run(main())
