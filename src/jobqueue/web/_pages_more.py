"""The dashboard's pages about the rest: error groups, live workers, schedules, the Redis server."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from jobqueue.web._context import Context

__all__ = ["MorePages"]


class MorePages:
    """The routes' endpoints (bound methods), on one dashboard's context."""

    def __init__(self, context: Context) -> None:
        self.context = context

    async def errors(self, request: Request) -> Response:
        """The error groups of every queue, largest first, with run and delete per group."""
        inspector = await self.context.backend.inspector()
        queue = request.query_params.get("queue") or None
        groups = await inspector.error_groups(queue)
        return self.context.pages.render(
            request, "errors.html", page="errors", groups=groups, queue=queue
        )

    async def workers(self, request: Request) -> Response:
        """The live worker processes and the jobs they are running."""
        return self.context.pages.render(
            request, "workers.html", page="workers", **await self._workers()
        )

    async def workers_fragment(self, request: Request) -> Response:
        """The live part of the workers page."""
        return self.context.pages.render(request, "_workers_live.html", **await self._workers())

    async def _workers(self) -> dict[str, Any]:
        inspector = await self.context.backend.inspector()
        return {"workers": await inspector.workers(), "now": datetime.now(UTC)}

    async def schedules(self, request: Request) -> Response:
        """The cron and interval schedules with their next run and last enqueue."""
        inspector = await self.context.backend.inspector()
        return self.context.pages.render(
            request,
            "schedules.html",
            page="schedules",
            schedules=await inspector.schedules(),
            now=datetime.now(UTC),
        )

    async def redis(self, request: Request) -> Response:
        """The Redis server: version, memory, clients, keys; each queue's sampled memory."""
        inspector = await self.context.backend.inspector()
        server = await inspector.server_info()
        queues = await inspector.queue_info(memory=True)
        settings = self.context.backend.settings
        return self.context.pages.render(
            request,
            "redis.html",
            page="redis",
            server=server,
            queues=queues,
            prefix=settings.key_prefix,
        )
