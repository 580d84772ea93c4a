"""The operator's actions on jobs: run now, delete, kill; one job, a list, a state, a group.

Every action is `act.lua`, one chunk of at most 500 jobs per call, so a large set never stalls
Redis; a job a worker is running is never touched. Jobs that enter or leave a state while a
bulk action goes through it may or may not be included (pause the queue for an exact result).
"""

from __future__ import annotations

from collections.abc import Sequence

from jobqueue.errors import JobQueueError
from jobqueue.options import JobState
from jobqueue.redis._inspect_base import InspectorBase, once_more, set_key
from jobqueue.redis._inspect_calls import ACT_CHUNK
from jobqueue.redis._inspect_queues import ProgressCallback
from jobqueue.redis._keys import QueueKeys
from jobqueue.redis._views import ActionResult

__all__ = ["ACTIONS", "ActionsPart"]

ACTIONS = ("run", "delete", "kill")
_FROM = {
    "run": (JobState.SCHEDULED, JobState.RETRY, JobState.DEAD),
    "delete": (
        JobState.PENDING,
        JobState.SCHEDULED,
        JobState.RETRY,
        JobState.DEAD,
        JobState.COMPLETED,
    ),
    "kill": (JobState.PENDING, JobState.SCHEDULED, JobState.RETRY),
}
"""The states each action takes jobs from."""


class ActionsPart(InspectorBase):
    """Actions on jobs."""

    async def act(
        self,
        action: str,
        queue: str,
        *,
        ids: Sequence[str] | None = None,
        state: JobState | str | None = None,
        group: str | None = None,
        job_type: str | None = None,
        error: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> ActionResult:
        """Run now, delete or kill the jobs of a queue given by ids, by state or by error group.

        Args:
            action: `run` (to pending, with a fresh retry count; from scheduled, retry or dead),
                `delete` (also releases the unique lock; any state but active) or `kill` (to
                dead, keeping the last error; from pending, scheduled or retry).
            queue: The queue.
            ids: These jobs.
            state: Every job in this state.
            group: Every job of this error group.
            job_type: Only jobs of this type (with `state` or `group`).
            error: Only jobs whose last error contains this text, case-insensitive.
            progress: Told `(examined, total)` after each chunk.

        Raises:
            JobQueueError: Not exactly one of `ids`, `state` and `group`, an unknown action, or
                a state the action does not take jobs from.
        """
        k = self._keys(queue)
        if action not in ACTIONS:
            raise JobQueueError(f"unknown action {action!r}: use one of {', '.join(ACTIONS)}")
        if sum(x is not None for x in (ids, state, group)) != 1:
            raise JobQueueError("give exactly one of: job ids, a state, an error group")
        if ids is not None:
            return await self._by_ids(k, action, list(ids), job_type, error, progress)
        if state is not None:
            state = JobState(state)
            if state not in _FROM[action]:
                allowed = ", ".join(s.value for s in _FROM[action])
                raise JobQueueError(f"{action} takes jobs from {allowed}, not {state.value}")
            source = state.value
            if state is JobState.PENDING:
                total = int(await once_more(lambda: self.broker.client.llen(k.pending)))
            else:
                key = set_key(k, state)
                total = int(await once_more(lambda: self.broker.client.zcard(key)))
        else:
            source = f"group:{group}"
            members = k.group(str(group)) + ":jobs"
            total = int(await once_more(lambda: self.broker.client.zcard(members)))
        return await self._by_source(k, action, source, total, job_type, error, progress)

    async def _by_ids(
        self,
        k: QueueKeys,
        action: str,
        ids: list[str],
        job_type: str | None,
        error: str | None,
        progress: ProgressCallback | None,
    ) -> ActionResult:
        done = running = 0
        for start in range(0, len(ids), ACT_CHUNK):
            chunk = ids[start : start + ACT_CHUNK]
            call = self.calls.act(k, action, "ids", job_type=job_type, error=error, ids=chunk)
            reply = await self._call(call)
            done += int(reply[0])
            running += int(reply[3])
            if progress is not None:
                progress(start + len(chunk), len(ids))
        return ActionResult(
            action=action, queue=k.queue, done=done, examined=len(ids), running=running
        )

    async def _by_source(
        self,
        k: QueueKeys,
        action: str,
        source: str,
        total: int,
        job_type: str | None,
        error: str | None,
        progress: ProgressCallback | None,
    ) -> ActionResult:
        done = examined = running = offset = 0
        while examined < total:  # jobs that arrive later are left for another run
            call = self.calls.act(k, action, source, offset=offset, job_type=job_type, error=error)
            reply = await self._call(call)
            done += int(reply[0])
            examined += int(reply[1])
            running += int(reply[3])
            if progress is not None:
                progress(min(examined, total), total)
            if int(reply[2]) < 0 or not int(reply[1]):
                break
            offset = int(reply[2])
        return ActionResult(
            action=action, queue=k.queue, done=done, examined=examined, running=running
        )

    async def kill(self, job_id: str, queue: str) -> bool:
        """Move a pending, scheduled or retry-waiting job to dead (keeping its last error)."""
        return (await self.act("kill", queue, ids=[job_id])).done == 1

    async def run_all(
        self,
        queue: str,
        state: JobState | str,
        *,
        job_type: str | None = None,
        error: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> ActionResult:
        """Run every scheduled, retry or dead job of a queue now (optionally filtered)."""
        return await self.act(
            "run", queue, state=state, job_type=job_type, error=error, progress=progress
        )

    async def delete_all(
        self,
        queue: str,
        state: JobState | str,
        *,
        job_type: str | None = None,
        error: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> ActionResult:
        """Delete every job of a queue in one state (optionally filtered); never active ones."""
        return await self.act(
            "delete", queue, state=state, job_type=job_type, error=error, progress=progress
        )

    async def kill_all(
        self,
        queue: str,
        state: JobState | str,
        *,
        job_type: str | None = None,
        error: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> ActionResult:
        """Move every pending, scheduled or retry job of a queue to dead (optionally filtered)."""
        return await self.act(
            "kill", queue, state=state, job_type=job_type, error=error, progress=progress
        )

    async def run_group(
        self, queue: str, group_id: str, *, progress: ProgressCallback | None = None
    ) -> ActionResult:
        """Run every job of an error group now (they leave the group)."""
        return await self.act("run", queue, group=group_id, progress=progress)

    async def delete_group(
        self, queue: str, group_id: str, *, progress: ProgressCallback | None = None
    ) -> ActionResult:
        """Delete every job of an error group (and so the group)."""
        return await self.act("delete", queue, group=group_id, progress=progress)
