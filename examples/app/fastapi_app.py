"""The HTTP API on FastAPI: endpoints store what they must and enqueue the rest as jobs.

    uvicorn --factory examples.app.fastapi_app:create_app

The queue comes from `jobqueue.contrib.fastapi` (`QueueDep`); the repository, cache and settings
from the container, through dependency-injector's `Depends(Provide[...])`. (No `from __future__
import annotations` here: `@inject` finds those markers only in evaluated annotations.)

The dashboard (`jobqueue.web`) is mounted at `/dashboard`, on the same queue settings. An app
would let its own login decide who may see it (`authorize=`); this example has no login, so it
lets in requests from this machine only (`local_only`), and no one else, actions included.
"""

import contextlib
import ipaddress
from collections.abc import AsyncIterator
from typing import Annotated, Any

from dependency_injector.wiring import Provide, inject
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from examples.app import usecases
from examples.app.containers import Container
from examples.app.jobs.types import SEND_EMAIL, SendEmail, SyncData
from examples.app.repository import EmailTakenError, UserRepository
from examples.app.schemas import NewUser, ReportRequest, WebhookEvent, accepted
from examples.app.settings import AppSettings
from jobqueue import DuplicateJobError
from jobqueue.cache import Cache
from jobqueue.contrib.fastapi import QueueDep, queue_lifespan
from jobqueue.web import dashboard

Users = Annotated[UserRepository, Depends(Provide[Container.users])]
CacheDep = Annotated[Cache, Depends(Provide[Container.core.cache])]
Settings = Annotated[AppSettings, Depends(Provide[Container.settings])]
router = APIRouter()


@router.post("/users", status_code=201)
@inject
async def create_user(body: NewUser, queue: QueueDep, users: Users) -> dict[str, Any]:
    user, info = await usecases.register_user(body, users, queue)
    return {"user": user.model_dump(mode="json"), "welcome_email": accepted(info)}


@router.post("/jobs/email", status_code=202)
async def send_email(body: SendEmail, queue: QueueDep) -> dict[str, Any]:
    return accepted(await queue.enqueue(SEND_EMAIL, body))


@router.post("/reports", status_code=202)
@inject
async def request_report(
    body: ReportRequest, queue: QueueDep, settings: Settings
) -> dict[str, Any]:
    report_id, info = await usecases.request_report(body, queue, settings.report_delay)
    return {"report_id": report_id, **accepted(info)}


@router.get("/reports/{report_id}")
@inject
async def get_report(report_id: str, cache: CacheDep) -> dict[str, Any]:
    report = await usecases.read_report(cache, report_id)
    if report is None:
        raise HTTPException(404, "no such report, or not generated yet")
    return report


@router.post("/webhooks/{source}", status_code=202)
async def receive_webhook(source: str, event: WebhookEvent, queue: QueueDep) -> dict[str, Any]:
    return accepted(await usecases.accept_webhook(source, event, queue))


@router.post("/sync", status_code=202)
async def request_sync(change: SyncData, queue: QueueDep) -> dict[str, Any]:
    return accepted(await usecases.request_sync(change, queue))


async def conflict(request: Request, exc: Exception) -> JSONResponse:
    """A taken email address, or a unique job already pending: 409."""
    return JSONResponse({"detail": str(exc)}, status_code=409)


def local_only(request: Request) -> bool:
    """The dashboard's `authorize` hook here: requests from this machine (an app: its login)."""
    if request.client is None:
        return False
    try:
        return ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:
        return False


def create_app(container: Container | None = None) -> FastAPI:
    """The app; its container's resources (queue, cache, database) live as long as it runs."""
    container = container if container is not None else Container()
    container.wire(modules=[__name__])
    settings = container.core.settings()
    jobs = dashboard(settings, authorize=local_only) if settings.driver == "redis" else None
    opened = queue_lifespan(container.core.queue, container=container)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with opened(app):
            yield
            if jobs is not None:
                await jobs.aclose()  # the broker the dashboard opened for itself

    app = FastAPI(title="jobqueue example", lifespan=lifespan)
    app.add_exception_handler(EmailTakenError, conflict)
    app.add_exception_handler(DuplicateJobError, conflict)
    app.include_router(router)
    if jobs is not None:  # the dashboard reads Redis: not there on the memory driver
        app.mount("/dashboard", jobs)
    return app
