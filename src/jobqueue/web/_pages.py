"""The dashboard's pages about queues and jobs: overview, a queue's jobs by state, one job, search.

Every read goes through the inspector and costs the same whatever the size of the queues: the
overview reads counters and daily history (never the jobs), a queue page reads one page.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from jobqueue.redis.inspector import Inspector, QueueInfo
from jobqueue.web._context import JOB_ACTIONS, LISTED, PAGE_SIZE, STATE_ACTIONS, Context
from jobqueue.web._format import chart, sum_days

__all__ = ["QueuePages"]

HISTORY_DAYS = 14


class QueuePages:
    """The routes' endpoints (bound methods), on one dashboard's context."""

    def __init__(self, context: Context) -> None:
        self.context = context

    async def _overview(self, inspector: Inspector) -> dict[str, Any]:
        infos = await inspector.queue_info(memory=False)
        histories = await asyncio.gather(
            *(inspector.history(info.queue, HISTORY_DAYS) for info in infos)
        )
        days = sum_days(histories)
        return {
            "queues": infos,
            "totals": _totals(infos),
            "chart": chart(days),
            "days": days,
        }

    async def overview(self, request: Request) -> Response:
        """Every queue: sizes by state, latency, paused, today's counts, the daily chart."""
        inspector = await self.context.backend.inspector()
        data = await self._overview(inspector)
        return self.context.pages.render(request, "overview.html", page="overview", **data)

    async def overview_fragment(self, request: Request) -> Response:
        """The live part of the overview, fetched every few seconds by the page's script."""
        inspector = await self.context.backend.inspector()
        data = await self._overview(inspector)
        return self.context.pages.render(request, "_overview_live.html", **data)

    async def queue(self, request: Request) -> Response:
        """A queue's page, its pending tab."""
        to = self.context.pages.url(request)(
            "queue_state", queue=request.path_params["queue"], state="pending"
        )
        return RedirectResponse(to, 303)

    async def queue_state(self, request: Request) -> Response:
        """A page of a queue's jobs in one state, with filters and bulk actions."""
        queue, state = request.path_params["queue"], request.path_params["state"]
        if state not in LISTED:
            raise HTTPException(404, f"no state {state!r}: one of {', '.join(LISTED)}")
        job_type = request.query_params.get("type", "").strip() or None
        error = request.query_params.get("error", "").strip() or None
        offset = _offset(request.query_params.get("offset"))
        newest = request.query_params.get("order") == "newest"
        inspector = await self.context.backend.inspector()
        (info,) = await inspector.queue_info([queue], memory=False)
        page = await inspector.list_jobs(
            queue,
            state,
            offset=offset,
            limit=PAGE_SIZE,
            job_type=job_type,
            error=error,
            newest_first=newest,
        )
        filters = {"type": job_type, "error": error, "order": "newest" if newest else None}
        return self.context.pages.render(
            request,
            "queue.html",
            page="queue",
            info=info,
            state=state,
            states=[(s, getattr(info, s)) for s in LISTED],
            jobs=page,
            filters=filters,
            filtered=bool(job_type or error),
            actions=STATE_ACTIONS[state],
            previous=max(0, offset - PAGE_SIZE) if offset else None,
        )

    async def job(self, request: Request) -> Response:
        """One job in full: payload, options, attempts, error, traceback, times, actions."""
        queue, job_id = request.path_params["queue"], request.path_params["job_id"]
        inspector = await self.context.backend.inspector()
        found = await inspector.job_detail(job_id, queue)
        if found is None:
            return self._missing(request, job_id)
        state = str(found.job.state)
        return self.context.pages.render(
            request,
            "job.html",
            page="job",
            detail=found,
            job=found.job,
            state=state,
            actions=JOB_ACTIONS.get(state, ()),
        )

    async def search(self, request: Request) -> Response:
        """Find a job by id in every configured queue: its page, or a page saying it is not there.

        Reads the job in each queue by its id, never a list of jobs.
        """
        job_id = request.query_params.get("id", "").strip()
        if not job_id:
            return RedirectResponse(self.context.pages.url(request)("overview"), 303)
        inspector = await self.context.backend.inspector()
        found = await inspector.job_detail(job_id[:200])
        if found is None:
            return self._missing(request, job_id)
        to = self.context.pages.url(request)("job", queue=found.job.queue, job_id=found.job.id)
        return RedirectResponse(to, 303)

    def _missing(self, request: Request, job_id: str) -> Response:
        return self.context.pages.render(
            request, "missing.html", status=404, page="search", job_id=job_id[:200]
        )


def _offset(raw: str | None) -> int:
    try:
        return max(0, int(raw or 0))
    except ValueError:
        return 0


def _totals(infos: list[QueueInfo]) -> dict[str, int]:
    names = ("size", *LISTED, "processed_today", "failed_today", "error_groups")
    return {name: sum(getattr(i, name) for i in infos) for name in names}
