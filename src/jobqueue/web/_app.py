"""`dashboard()`: the Starlette application, its routes, and what it does with errors."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from jobqueue.errors import JobQueueError, QueueUnavailableError, UnknownQueueError
from jobqueue.web._actions import Actions
from jobqueue.web._backend import Backend, Source
from jobqueue.web._context import Context
from jobqueue.web._csrf import Csrf
from jobqueue.web._guard import Authorize, Guard
from jobqueue.web._pages import QueuePages
from jobqueue.web._pages_more import MorePages
from jobqueue.web._render import Pages, Settings

__all__ = ["Dashboard", "dashboard"]

STATIC = Path(__file__).resolve().parent / "static"


class Dashboard(Starlette):
    """The dashboard's ASGI app; `aclose()` stops its broker when the app mounting it stops."""

    backend: Backend

    async def aclose(self) -> None:
        """Stop the broker the dashboard started for itself (it starts again if needed)."""
        await self.backend.aclose()


def dashboard(
    settings_or_url: Source = None,
    *,
    authorize: Authorize | None = None,
    read_only: bool = False,
    basic_auth: tuple[str, str] | None = None,
    secret: str | bytes | None = None,
    refresh: float = 3.0,
    title: str = "jobqueue",
) -> Dashboard:
    """The dashboard: an ASGI app to mount in another (`app.mount("/jobs", ...)`) or run alone.

    Args:
        settings_or_url: Where the queues are: `QueueSettings`, a Redis URL, a started
            `RedisJobBroker` or an `Inspector`; `None` reads `QUEUE_*` as workers do. With
            settings or a URL the dashboard starts a broker of its own at its first request.
        authorize: `authorize(request) -> bool` (or an async one): only requests it returns
            `True` for see the dashboard; the others get 403, reads and actions alike.
        read_only: Show no action, and refuse every POST with 403.
        basic_auth: `(user, password)`: HTTP basic auth in front of everything (401 without).
        secret: The key that signs CSRF tokens; give the same one to every process serving the
            dashboard behind one address (random per process otherwise).
        refresh: Seconds between live refreshes of the overview and workers pages.
        title: The name shown in the header.
    """
    backend = Backend(settings_or_url)
    csrf = Csrf(secret)
    pages = Pages(Settings(title=title, read_only=read_only, refresh=refresh), csrf)
    context = Context(backend=backend, pages=pages, csrf=csrf, read_only=read_only)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await backend.aclose()

    app = Dashboard(
        routes=_routes(context),
        middleware=[Middleware(Guard, authorize=authorize, basic_auth=basic_auth)],
        exception_handlers={
            HTTPException: _refused(pages),
            UnknownQueueError: _refused(pages, 404),
            QueueUnavailableError: _refused(pages, 503),
            RedisError: _refused(pages, 503),
            OSError: _refused(pages, 503),
            JobQueueError: _refused(pages, 400),
        },
        lifespan=lifespan,
    )
    app.backend = backend
    pages.router = app.router
    return app


def _routes(context: Context) -> list[BaseRoute]:
    queues, more, act = QueuePages(context), MorePages(context), Actions(context)
    return [
        Route("/", queues.overview, name="overview"),
        Route("/live/overview", queues.overview_fragment, name="overview_live"),
        Route("/search", queues.search, name="search"),
        Route("/queues/{queue}", queues.queue, name="queue"),
        Route("/queues/{queue}/pause", act.pause, methods=["POST"], name="pause"),
        Route("/queues/{queue}/resume", act.resume, methods=["POST"], name="resume"),
        Route("/queues/{queue}/{state}", queues.queue_state, name="queue_state"),
        Route("/queues/{queue}/{state}/act", act.queue_act, methods=["POST"], name="queue_act"),
        Route("/job/{queue}/{job_id}", queues.job, name="job"),
        Route("/job/{queue}/{job_id}/act", act.job_act, methods=["POST"], name="job_act"),
        Route("/errors", more.errors, name="errors"),
        Route("/errors/{queue}/{group}/act", act.group_act, methods=["POST"], name="group_act"),
        Route("/workers", more.workers, name="workers"),
        Route("/live/workers", more.workers_fragment, name="workers_live"),
        Route("/schedules", more.schedules, name="schedules"),
        Route("/redis", more.redis, name="redis"),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]


def _refused(
    pages: Pages, status: int | None = None
) -> Callable[[Request, Exception], Awaitable[Response]]:
    async def handle(request: Request, exc: Exception) -> Response:
        code = status or (exc.status_code if isinstance(exc, HTTPException) else 500)
        message = exc.detail if isinstance(exc, HTTPException) else str(exc).splitlines()[0]
        if code == 503:
            message = f"Redis cannot be reached: {message}"
        return pages.render(
            request, "refused.html", status=code, page="", code=code, message=message
        )

    return handle
