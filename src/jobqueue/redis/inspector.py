"""`Inspector`: what is in the queues, and the operator's actions on it (monitoring).

Counts per state, a job's stored record (error, traceback, attempts), listing jobs by state,
deleting a job (which releases its unique lock), running a dead or waiting job now, and pausing
a queue (workers stop fetching from it; producers can still enqueue).

A job's state is where its id is (see `lua/_common.lua`); a record that cannot be read is still
listed, with its job type `"?"` and the reason as its error, so one bad job never hides the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import orjson

from jobqueue._wire import MalformedRecordError, decode
from jobqueue.errors import JobQueueError, UnknownQueueError
from jobqueue.options import JobRecord, JobState, Progress
from jobqueue.redis._broker import RedisJobBroker
from jobqueue.redis._keys import QueueKeys, queues_set

__all__ = ["Inspector", "JobRecord", "QueueStats"]

# The sets a job's id can be in, in the order `job()` asks about them.
_SETS = (JobState.ACTIVE, JobState.SCHEDULED, JobState.RETRY, JobState.DEAD, JobState.COMPLETED)


@dataclass(frozen=True, slots=True)
class QueueStats:
    """Jobs per state in one queue, and its lifetime counters."""

    queue: str
    pending: int
    scheduled: int
    active: int
    retry: int
    dead: int
    completed: int
    paused: bool
    processed_total: int
    failed_total: int
    stale_total: int = 0
    """Acknowledgements refused because their delivery no longer owned the job."""


def _zset(keys: QueueKeys, state: JobState) -> str:
    return {
        JobState.ACTIVE: keys.lease,
        JobState.SCHEDULED: keys.scheduled,
        JobState.RETRY: keys.retry,
        JobState.DEAD: keys.dead,
        JobState.COMPLETED: keys.completed,
    }[state]


class Inspector:
    """Reads and manages the queues of a started `RedisJobBroker`."""

    def __init__(self, broker: RedisJobBroker) -> None:
        self.broker = broker

    async def queues(self) -> list[str]:
        """Every queue name producers or workers have used."""
        key = queues_set(self.broker.settings.key_prefix)
        members = cast(set[bytes], await self.broker.client.smembers(key))
        return sorted(m.decode() for m in members)

    async def stats(self) -> list[QueueStats]:
        """Counts for every configured queue, in one round trip."""
        names = list(self.broker.keys)
        async with self.broker.client.pipeline(transaction=False) as pipe:
            for name in names:
                k = self.broker.keys[name]
                pipe.llen(k.pending)
                for zset in (k.scheduled, k.lease, k.retry, k.dead, k.completed):
                    pipe.zcard(zset)
                pipe.exists(k.paused)
                pipe.hgetall(k.stats)
            replies = await pipe.execute()
        out = []
        for i, name in enumerate(names):
            pending, scheduled, active, retry, dead, completed, paused, stats = replies[
                i * 8 : i * 8 + 8
            ]
            out.append(
                QueueStats(
                    queue=name,
                    pending=pending,
                    scheduled=scheduled,
                    active=active,
                    retry=retry,
                    dead=dead,
                    completed=completed,
                    paused=bool(paused),
                    processed_total=int(stats.get(b"processed", 0)),
                    failed_total=int(stats.get(b"failed", 0)),
                    stale_total=int(stats.get(b"stale", 0)),
                )
            )
        return out

    async def job(self, job_id: str, queue: str | None = None) -> JobRecord | None:
        """A job's record, looked up in `queue` or in every configured queue."""
        for name in [queue] if queue else list(self.broker.keys):
            (record,) = await self._records(name, [job_id])
            if record is not None:
                return record
        return None

    async def jobs(self, queue: str, state: JobState | str, limit: int = 50) -> list[JobRecord]:
        """Up to `limit` jobs of a queue in one state (oldest first)."""
        k = self._keys(queue)
        state = JobState(state)
        client = self.broker.client
        ids: list[bytes]
        if state is JobState.PENDING:
            ids = cast(list[bytes], await client.lrange(k.pending, -limit, -1))
            ids.reverse()
        else:
            ids = cast(list[bytes], await client.zrange(_zset(k, state), 0, limit - 1))
        records = await self._records(queue, [raw.decode(errors="replace") for raw in ids])
        return [r for r in records if r is not None]

    async def delete(self, job_id: str, queue: str) -> bool:
        """Delete a waiting, dead or completed job and release its unique lock.

        Raises:
            JobQueueError: The job is running; a worker holds it.
        """
        self._keys(queue)
        result = await self.broker.scripts.call(*self.broker.calls.delete(queue, job_id))
        if int(result) < 0:
            raise JobQueueError(f"job {job_id!r} is running; delete it once it has finished")
        return bool(result)

    async def run_now(self, job_id: str, queue: str) -> bool:
        """Move a dead, retry-waiting or scheduled job to pending, with a fresh retry count."""
        self._keys(queue)
        return bool(await self.broker.scripts.call(*self.broker.calls.revive(queue, job_id)))

    async def pause(self, queue: str) -> None:
        """Stop workers from fetching from `queue` (producers can still enqueue)."""
        await self.broker.client.set(self._keys(queue).paused, "1")

    async def resume(self, queue: str) -> None:
        """Let workers fetch from `queue` again."""
        await self.broker.client.delete(self._keys(queue).paused)

    def _keys(self, queue: str) -> QueueKeys:
        try:
            return self.broker.keys[queue]
        except KeyError:
            raise UnknownQueueError(queue, tuple(self.broker.keys)) from None

    async def _records(self, queue: str, ids: Sequence[str]) -> list[JobRecord | None]:
        """The records of jobs of one queue, in one round trip."""
        k = self._keys(queue)
        async with self.broker.client.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.hget(k.jobs, job_id)
                pipe.hgetall(k.job(job_id))
                for state in _SETS:
                    pipe.zscore(_zset(k, state), job_id)
            replies = await pipe.execute(raise_on_error=False)
        width = 2 + len(_SETS)
        return [
            _record(job_id, queue, replies[i * width : (i + 1) * width])
            for i, job_id in enumerate(ids)
        ]


def _record(job_id: str, queue: str, replies: list[Any]) -> JobRecord | None:
    raw, attempt, *scores = replies
    attempt = attempt if isinstance(attempt, dict) else {}
    raw = raw if isinstance(raw, bytes) else attempt.get(b"msg")
    if raw is None and not attempt:
        return None
    state: JobState = JobState.PENDING
    due: float | None = None
    for candidate, score in zip(_SETS, scores, strict=True):
        if isinstance(score, float):
            state = candidate
            due = score if candidate in (JobState.SCHEDULED, JobState.RETRY) else None
            break
    if state is JobState.DEAD and attempt.get(b"cancelled_at"):
        state = JobState.CANCELLED
    error = _text(attempt.get(b"error"))
    job_type, payload, max_retry, timeout, enqueued = "?", None, None, None, None
    deadline: float | None = None
    try:
        job = decode(raw or b"", job_id)
        job_type, payload, enqueued = job.job_type, job.payload, job.enqueued_at
        max_retry, timeout, deadline = job.max_retry, job.timeout, job.deadline
    except MalformedRecordError as exc:
        error = error or str(exc)
    if enqueued is None and attempt.get(b"enqueued_at"):  # a job stored by jobqueue 0.1
        enqueued = int(attempt[b"enqueued_at"]) / 1000
    return JobRecord(
        id=job_id,
        queue=queue,
        job_type=job_type,
        state=state,
        payload=payload,
        retried=_int(attempt.get(b"retried")),
        max_retry=max_retry,
        error=error,
        traceback=_text(attempt.get(b"traceback")),
        enqueued_at=_time(enqueued),
        process_at=_time(due / 1000 if due is not None else enqueued),
        failed_at=_time(_int(attempt.get(b"failed_at")) / 1000 or None),
        deliveries=_int(attempt.get(b"deliveries")),
        lost=_int(attempt.get(b"lost")),
        timeout=timeout,
        progress=_progress(attempt.get(b"progress")),
        result=_json(attempt.get(b"result")),
        deadline=_time(deadline),
    )


def _progress(raw: bytes | None) -> Progress | None:
    try:
        return Progress.from_json(orjson.loads(raw)) if raw else None
    except (ValueError, KeyError, TypeError):
        return None


def _json(raw: bytes | None) -> Any:
    try:
        return orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        return None


def _time(seconds: float | None) -> datetime | None:
    return datetime.fromtimestamp(seconds, UTC) if seconds else None


def _int(raw: bytes | None) -> int:
    try:
        return int(raw or 0)
    except ValueError:
        return 0


def _text(raw: bytes | None) -> str | None:
    return raw.decode(errors="replace") if raw else None
