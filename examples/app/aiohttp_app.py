"""The same HTTP API on aiohttp: `python -m examples.app.aiohttp_app` serves it on port 8080.

The queue comes from `jobqueue.contrib.aiohttp` (`request.app[QUEUE_KEY]`); the repository, cache
and settings are injected by dependency-injector (`@inject` with `Provide[...]` defaults).
"""

from __future__ import annotations

from typing import TypeVar

from aiohttp import web
from aiohttp.typedefs import Handler
from dependency_injector.wiring import Provide, inject
from pydantic import BaseModel, ValidationError

from examples.app import usecases
from examples.app.containers import Container
from examples.app.jobs.types import SEND_EMAIL, SendEmail, SyncData
from examples.app.repository import EmailTakenError, UserRepository
from examples.app.schemas import NewUser, ReportRequest, WebhookEvent, accepted
from examples.app.settings import AppSettings
from jobqueue import DuplicateJobError
from jobqueue.cache import Cache
from jobqueue.contrib.aiohttp import QUEUE_KEY, queue_context

M = TypeVar("M", bound=BaseModel)
routes = web.RouteTableDef()


async def _body(request: web.Request, model: type[M]) -> M:
    try:
        return model.model_validate_json(await request.read())
    except ValidationError as exc:  # the status FastAPI answers
        raise web.HTTPUnprocessableEntity(
            text=exc.json(), content_type="application/json"
        ) from None


@routes.post("/users")
@inject
async def create_user(
    request: web.Request, users: UserRepository = Provide[Container.users]
) -> web.Response:
    body = await _body(request, NewUser)
    user, info = await usecases.register_user(body, users, request.app[QUEUE_KEY])
    answer = {"user": user.model_dump(mode="json"), "welcome_email": accepted(info)}
    return web.json_response(answer, status=201)


@routes.post("/jobs/email")
async def send_email(request: web.Request) -> web.Response:
    info = await request.app[QUEUE_KEY].enqueue(SEND_EMAIL, await _body(request, SendEmail))
    return web.json_response(accepted(info), status=202)


@routes.post("/reports")
@inject
async def request_report(
    request: web.Request, settings: AppSettings = Provide[Container.settings]
) -> web.Response:
    body = await _body(request, ReportRequest)
    report_id, info = await usecases.request_report(
        body, request.app[QUEUE_KEY], settings.report_delay
    )
    return web.json_response({"report_id": report_id, **accepted(info)}, status=202)


@routes.get("/reports/{report_id}")
@inject
async def get_report(
    request: web.Request, cache: Cache = Provide[Container.core.cache]
) -> web.Response:
    report = await usecases.read_report(cache, request.match_info["report_id"])
    if report is None:
        return web.json_response({"detail": "no such report, or not generated yet"}, status=404)
    return web.json_response(report)


@routes.post("/webhooks/{source}")
async def receive_webhook(request: web.Request) -> web.Response:
    event, source = await _body(request, WebhookEvent), request.match_info["source"]
    info = await usecases.accept_webhook(source, event, request.app[QUEUE_KEY])
    return web.json_response(accepted(info), status=202)


@routes.post("/sync")
async def request_sync(request: web.Request) -> web.Response:
    info = await usecases.request_sync(await _body(request, SyncData), request.app[QUEUE_KEY])
    return web.json_response(accepted(info), status=202)


@web.middleware
async def conflicts(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A taken email address, or a unique job already pending: 409."""
    try:
        return await handler(request)
    except (EmailTakenError, DuplicateJobError) as exc:
        return web.json_response({"detail": str(exc)}, status=409)


def create_app(container: Container | None = None) -> web.Application:
    """The app; its container's resources (queue, cache, database) live as long as it runs."""
    container = container if container is not None else Container()
    container.wire(modules=[__name__])
    app = web.Application(middlewares=[conflicts])
    app.cleanup_ctx.append(queue_context(container.core.queue, container=container))
    app.add_routes(routes)
    return app


if __name__ == "__main__":  # python -m examples.app.aiohttp_app
    web.run_app(create_app(), host="127.0.0.1", port=8080)
