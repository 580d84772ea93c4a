"""The inspector's view of jobs: pages of a state, with filters, and one job in full."""

from __future__ import annotations

from jobqueue.errors import JobQueueError
from jobqueue.options import JobState
from jobqueue.redis._inspect_base import InspectorBase, once_more, set_key
from jobqueue.redis._views import JobDetail, JobPage

__all__ = ["JobsPart"]

_MOST_EXAMINED = 10_000
"""Jobs one filtered page examines at most; the page says where to go on from."""


class JobsPart(InspectorBase):
    """Jobs one by one."""

    async def list_jobs(
        self,
        queue: str,
        state: JobState | str,
        *,
        offset: int = 0,
        limit: int = 50,
        job_type: str | None = None,
        error: str | None = None,
        newest_first: bool = False,
    ) -> JobPage:
        """One page of the jobs of a queue in one state, oldest first.

        Args:
            queue: The queue.
            state: The state to list.
            offset: Where to start: 0, or the `next_offset` of the previous page.
            limit: Jobs per page (1 to 10,000).
            job_type: Only jobs of this type.
            error: Only jobs whose last error contains this text (case-insensitive).
            newest_first: Newest first instead.

        A filtered page examines at most 10,000 jobs, so it may hold fewer than `limit` even
        though `next_offset` says there are more to look at.
        """
        k = self._keys(queue)
        state = JobState(state)
        if not 1 <= limit <= _MOST_EXAMINED:
            raise JobQueueError(f"limit must be 1 to {_MOST_EXAMINED}, got {limit}")
        if offset < 0:
            raise JobQueueError(f"offset must be >= 0, got {offset}")
        call = self.calls.scan(
            k,
            state.value,
            offset=offset,
            limit=limit,
            most=_MOST_EXAMINED,
            job_type=job_type,
            error=error,
            newest_first=newest_first,
        )
        client = self.broker.client
        reply = await self._call(call)
        if state is JobState.PENDING:
            total = int(await once_more(lambda: client.llen(k.pending)))
        else:
            key = set_key(k, state)
            total = int(await once_more(lambda: client.zcard(key)))
        nxt = int(reply[0])
        ids = [raw.decode(errors="replace") for raw in reply[1:]]
        records = await self._records(queue, ids)
        return JobPage(
            queue=queue,
            state=state,
            jobs=tuple(r for r in records if r is not None),
            total=total,
            offset=offset,
            next_offset=nxt if 0 <= nxt < total else None,
        )

    async def job_detail(self, job_id: str, queue: str | None = None) -> JobDetail | None:
        """Everything stored about a job, looked up in `queue` or in every configured queue."""
        for name in [queue] if queue else list(self.broker.keys):
            (found,) = await self._details(name, [job_id])
            if found is not None:
                return found
        return None
