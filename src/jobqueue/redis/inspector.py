"""`Inspector`: what is in the queues, and the operator's actions on it (monitoring).

Counts per state, a job's stored record (error, traceback, attempts), listing jobs by state,
deleting a job (which releases its unique lock), running a dead or waiting job now, and pausing
a queue (workers stop fetching from it; producers can still enqueue).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import orjson

from jobqueue.errors import JobQueueError
from jobqueue.options import JobState
from jobqueue.redis.broker import RedisJobBroker
from jobqueue.redis.keys import queues_set

__all__ = ["Inspector", "JobRecord", "QueueStats"]


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


@dataclass(frozen=True, slots=True)
class JobRecord:
    """A job as stored in Redis."""

    id: str
    queue: str
    job_type: str
    state: JobState | str
    payload: Any
    retried: int
    max_retry: int | None
    error: str | None
    traceback: str | None
    enqueued_at: datetime | None
    process_at: datetime | None
    failed_at: datetime | None
    deliveries: int


def _time(raw: bytes | None) -> datetime | None:
    return datetime.fromtimestamp(int(raw) / 1000, UTC) if raw else None


def _text(raw: bytes | None) -> str | None:
    return raw.decode(errors="replace") if raw else None


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
                )
            )
        return out

    async def job(self, job_id: str, queue: str | None = None) -> JobRecord | None:
        """A job's record, looked up in `queue` or in every configured queue."""
        for name in [queue] if queue else list(self.broker.keys):
            key = self._keys(name).job(job_id)
            raw = cast(dict[bytes, bytes], await self.broker.client.hgetall(key))
            if raw:
                return self._record(job_id, name, raw)
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
            zset = {
                JobState.SCHEDULED: k.scheduled,
                JobState.ACTIVE: k.lease,
                JobState.RETRY: k.retry,
                JobState.DEAD: k.dead,
                JobState.COMPLETED: k.completed,
            }[state]
            ids = cast(list[bytes], await client.zrange(zset, 0, limit - 1))
        records = []
        for raw_id in ids:
            record = await self.job(raw_id.decode(), queue)
            if record is not None:
                records.append(record)
        return records

    async def delete(self, job_id: str, queue: str) -> bool:
        """Delete a waiting, dead or completed job and release its unique lock.

        Raises:
            JobQueueError: The job is running; a worker holds it.
        """
        k = self._keys(queue)
        scripts = self.broker.scripts
        result = await scripts.call(
            scripts.delete,
            [k.job(job_id), k.pending, k.scheduled, k.retry, k.dead, k.completed, k.lease],
            [job_id],
        )
        if int(result) < 0:
            raise JobQueueError(f"job {job_id!r} is running; delete it once it has finished")
        return bool(result)

    async def run_now(self, job_id: str, queue: str) -> bool:
        """Move a dead, retry-waiting or scheduled job to pending, with a fresh retry count."""
        k = self._keys(queue)
        scripts = self.broker.scripts
        result = await scripts.call(
            scripts.revive, [k.job(job_id), k.pending, k.dead, k.retry, k.scheduled], [job_id]
        )
        return bool(result)

    async def pause(self, queue: str) -> None:
        """Stop workers from fetching from `queue` (producers can still enqueue)."""
        await self.broker.client.set(self._keys(queue).paused, "1")

    async def resume(self, queue: str) -> None:
        """Let workers fetch from `queue` again."""
        await self.broker.client.delete(self._keys(queue).paused)

    def _keys(self, queue: str) -> Any:
        try:
            return self.broker.keys[queue]
        except KeyError:
            from jobqueue.errors import UnknownQueueError

            raise UnknownQueueError(queue, tuple(self.broker.keys)) from None

    def _record(self, job_id: str, queue: str, raw: dict[bytes, bytes]) -> JobRecord:
        payload: Any = None
        job_type = _text(raw.get(b"type")) or "?"
        try:
            body = orjson.loads(raw.get(b"msg", b""))
            payload = body["args"][0] if body.get("args") else body.get("kwargs")
        except (orjson.JSONDecodeError, KeyError, TypeError, IndexError):
            payload = _text(raw.get(b"msg"))
        state_text = _text(raw.get(b"state")) or "?"
        try:
            state: JobState | str = JobState(state_text)
        except ValueError:
            state = state_text
        max_retry = raw.get(b"max_retry")
        return JobRecord(
            id=job_id,
            queue=queue,
            job_type=job_type,
            state=state,
            payload=payload,
            retried=int(raw.get(b"retried", 0) or 0),
            max_retry=int(max_retry) if max_retry else None,
            error=_text(raw.get(b"error")),
            traceback=_text(raw.get(b"traceback")),
            enqueued_at=_time(raw.get(b"enqueued_at")),
            process_at=_time(raw.get(b"process_at")),
            failed_at=_time(raw.get(b"failed_at")),
            deliveries=int(raw.get(b"deliveries", 0) or 0),
        )
