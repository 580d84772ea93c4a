"""aiohttp: the queue opens in a cleanup context and is stored under `QUEUE_KEY`.

    python examples/docs/aiohttp_integration.py

Serves the app on a free local port with the memory driver, which also runs the jobs, and calls
its three endpoints.
"""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from dependency_injector import containers, providers
from dependency_injector.wiring import Provide, inject
from pydantic import BaseModel, ValidationError

from jobqueue import EnqueueOptions, JobQueue, JobRegistry, JobType, QueueSettings
from jobqueue.contrib.aiohttp import QUEUE_KEY, queue_context
from jobqueue.di import QueueContainer
from jobqueue.memory import MemoryJobBroker
from jobqueue.settings import CacheSettings

M = TypeVar("M", bound=BaseModel)


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


async def read_body(request: web.Request, model: type[M]) -> M:
    """The request body as `model`; 422 with pydantic's errors if it does not fit."""
    try:
        return model.model_validate_json(await request.read())
    except ValidationError as exc:
        raise web.HTTPUnprocessableEntity(
            text=exc.json(), content_type="application/json"
        ) from None


# --8<-- [start:endpoints]
routes = web.RouteTableDef()


@routes.post("/users")
@inject
async def register_user(
    request: web.Request, users: UserStore = Provide[Container.users]
) -> web.Response:
    body = await read_body(request, NewUser)
    user_id = await users.add(body.email)  # what must be stored now, is stored now
    info = await request.app[QUEUE_KEY].enqueue(SEND_WELCOME, Welcome(user_id=user_id))
    return web.json_response({"user_id": user_id, "welcome_job": info.id}, status=201)


@routes.post("/reports")
async def request_report(request: web.Request) -> web.Response:
    body = await read_body(request, ReportRequest)
    queue = request.app[QUEUE_KEY]
    info = await queue.enqueue_with_delay(
        GENERATE_REPORT, Report(kind=body.kind), body.delay_seconds
    )
    return web.json_response({"job_id": info.id, "queue": info.queue}, status=202)


@routes.post("/webhooks/{source}")
async def receive_webhook(request: web.Request) -> web.Response:
    payload = Webhook(source=request.match_info["source"], event=await request.json())
    info = await request.app[QUEUE_KEY].enqueue_with_options(
        PROCESS_WEBHOOK, payload, WEBHOOK_OPTIONS
    )
    return web.json_response({"job_id": info.id, "queue": info.queue}, status=202)


# --8<-- [end:endpoints]


# --8<-- [start:app]
def create_app(container: Container) -> web.Application:
    """`web.run_app(create_app(Container()))` in production."""
    container.wire(modules=[__name__])  # resolves the `Provide[...]` markers above
    app = web.Application()
    # Opens the container's resources, then the queue; closes them when the app stops.
    app.cleanup_ctx.append(queue_context(container.core.queue, container=container))
    app.add_routes(routes)
    return app


# --8<-- [end:app]


async def main() -> None:
    container = Container()
    run_jobs_in_process(container)
    app = create_app(container)
    async with TestClient(TestServer(app)) as api:
        user = await api.post("/users", json={"email": "ada@example.com"})
        report = await api.post("/reports", json={"kind": "signups", "delay_seconds": 0.2})
        hook = await api.post("/webhooks/stripe", json={"type": "invoice.paid", "id": "evt_1"})
        answers = [(r.status, await r.json()) for r in (user, report, hook)]
        print(*answers, sep="\n")
        assert [status for status, _ in answers] == [201, 202, 202]
        assert (answers[1][1]["queue"], answers[2][1]["queue"]) == ("low", "critical")
        bad = await api.post("/users", json={"mail": "ada@example.com"})
        assert bad.status == 422

        queue = app[QUEUE_KEY]
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


if __name__ == "__main__":
    asyncio.run(main())
