"""What every part of the inspector shares: the broker, its queues' keys, and reading records.

A job's state is where its id is (see `lua/_common.lua`); a record that cannot be read is still
shown, with its job type `"?"` and the reason as its error, so one bad job never hides the rest.
Jobs of jobqueue 0.1 keep everything in their attempt hash (the Taskiq message in `msg`); they
are read the same way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import orjson
from redis.exceptions import ConnectionError as RedisConnectionError

from jobqueue._wire import MalformedRecordError, WireJob, decode
from jobqueue.errors import UnknownQueueError
from jobqueue.options import JobRecord, JobState, Progress
from jobqueue.redis._broker import RedisJobBroker
from jobqueue.redis._inspect_calls import InspectorCalls, InspectorScripts, set_key
from jobqueue.redis._keys import QueueKeys, queues_set
from jobqueue.redis._scripts import Call
from jobqueue.redis._views import JobDetail

__all__ = ["SETS", "InspectorBase", "once_more", "set_key"]

T = TypeVar("T")

SETS = (JobState.ACTIVE, JobState.SCHEDULED, JobState.RETRY, JobState.DEAD, JobState.COMPLETED)
"""The sets a job's id can be in, in the order a lookup asks about them."""


async def once_more(read: Callable[[], Awaitable[T]]) -> T:
    """Run a read on the client's connection pool, and once more if its connection was dead.

    A once_more connection left idle across a Redis restart fails the next command sent on it
    (redis-py drops it then); the scripts go over the broker's pipelined connection, which
    reconnects by itself, but plain reads use the pool. A second failure is a real outage.
    """
    try:
        return await read()
    except RedisConnectionError:
        return await read()


class InspectorBase:
    """The broker an inspector reads, and the helpers its parts share."""

    def __init__(self, broker: RedisJobBroker) -> None:
        self.broker = broker
        self._calls: InspectorCalls | None = None

    @property
    def calls(self) -> InspectorCalls:
        """The inspector's script calls, on the broker's connection (the broker must be started)."""
        if self._calls is None or self._calls.scripts.client is not self.broker.client:
            scripts = InspectorScripts(self.broker.scripts)
            self._calls = InspectorCalls(scripts, self.broker.settings)
        return self._calls

    async def _call(self, call: Call) -> Any:
        """Run one of the inspector's scripts (once more if the connection had dropped)."""
        return await once_more(lambda: self.calls.scripts.call(*call))

    async def _batch(self, calls: Sequence[Call]) -> list[Any]:
        """Run scripts in one round trip; replies (or exceptions) in order."""
        return await once_more(lambda: self.calls.scripts.batch(calls))

    def _keys(self, queue: str) -> QueueKeys:
        try:
            return self.broker.keys[queue]
        except KeyError:
            raise UnknownQueueError(queue, tuple(self.broker.keys)) from None

    async def _known_keys(self, queue: str) -> QueueKeys:
        """The keys of a configured queue, or of one that producers or workers have used."""
        if queue in self.broker.keys:
            return self.broker.keys[queue]
        prefix = self.broker.settings.key_prefix
        if await once_more(lambda: self.broker.client.sismember(queues_set(prefix), queue)):
            return QueueKeys(prefix, queue)
        raise UnknownQueueError(queue, tuple(self.broker.keys))

    async def _details(self, queue: str, ids: Sequence[str]) -> list[JobDetail | None]:
        """The stored jobs of one queue, in one round trip."""
        k = self._keys(queue)

        async def read() -> list[Any]:
            async with self.broker.client.pipeline(transaction=False) as pipe:
                for job_id in ids:
                    pipe.hget(k.jobs, job_id)
                    pipe.hgetall(k.job(job_id))
                    for state in SETS:
                        pipe.zscore(set_key(k, state), job_id)
                return list(await pipe.execute(raise_on_error=False))

        replies = await once_more(read)
        width = 2 + len(SETS)
        return [
            detail(job_id, queue, replies[i * width : (i + 1) * width])
            for i, job_id in enumerate(ids)
        ]

    async def _records(self, queue: str, ids: Sequence[str]) -> list[JobRecord | None]:
        return [d.job if d is not None else None for d in await self._details(queue, ids)]


def detail(job_id: str, queue: str, replies: list[Any]) -> JobDetail | None:
    """A job from its record, its attempt hash and its scores in the sets (`None`: no job)."""
    raw, attempt, *scores = replies
    attempt = cast(dict[bytes, bytes], attempt if isinstance(attempt, dict) else {})
    raw = raw if isinstance(raw, bytes) else attempt.get(b"msg")
    if raw is None and not attempt:
        return None
    state: JobState = JobState.PENDING
    due: float | None = None
    for candidate, score in zip(SETS, scores, strict=True):
        if isinstance(score, float):
            state = candidate
            due = score if candidate in (JobState.SCHEDULED, JobState.RETRY) else None
            break
    if state is JobState.DEAD and attempt.get(b"cancelled_at"):
        state = JobState.CANCELLED  # cancelled jobs are kept in the dead set
    error = text(attempt.get(b"error"))
    job: WireJob | None = None
    try:
        job = decode(raw or b"", job_id)
    except MalformedRecordError as exc:
        error = error or str(exc)
    enqueued = job.enqueued_at if job is not None else None
    if enqueued is None and attempt.get(b"enqueued_at"):  # a job stored by jobqueue 0.1
        enqueued = integer(attempt[b"enqueued_at"]) / 1000
    record = JobRecord(
        id=job_id,
        queue=queue,
        job_type=job.job_type if job is not None else "?",
        state=state,
        payload=job.payload if job is not None else None,
        retried=integer(attempt.get(b"retried")),
        max_retry=job.max_retry if job is not None else None,
        error=error,
        traceback=text(attempt.get(b"traceback")),
        enqueued_at=at(enqueued),
        process_at=at(due / 1000 if due is not None else enqueued),
        failed_at=at(integer(attempt.get(b"failed_at")) / 1000 or None),
        deliveries=integer(attempt.get(b"deliveries")),
        lost=integer(attempt.get(b"lost")),
        timeout=job.timeout if job is not None else None,
        progress=_progress(attempt.get(b"progress")),
        result=_json(attempt.get(b"result")),
        deadline=at(job.deadline if job is not None else None),
    )
    return JobDetail(
        job=record,
        attempts=record.retried + 1 if record.deliveries else 0,
        labels=dict(job.labels) if job is not None else {},
        unique_digest=job.unique_digest if job is not None else None,
        completed_at=at(integer(attempt.get(b"completed_at")) / 1000 or None),
        error_group=text(attempt.get(b"group")),
        legacy=bool(job.legacy) if job is not None else b"msg" in attempt,
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


def at(seconds: float | None) -> datetime | None:
    """Epoch seconds as a UTC time; `None` (or 0) stays `None`."""
    return datetime.fromtimestamp(seconds, UTC) if seconds else None


def integer(raw: bytes | str | None) -> int:
    """A stored integer; 0 when missing or unreadable."""
    try:
        return int(raw or 0)
    except ValueError:
        return 0


def text(raw: bytes | None) -> str | None:
    """Stored text; `None` when missing or empty."""
    return raw.decode(errors="replace") if raw else None
