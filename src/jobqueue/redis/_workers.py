"""Live workers: the record each worker process keeps in Redis, and reading those records back.

A worker's record is one JSON string, `<prefix>:worker:<id>`, written with a time to live of one
lease timeout and renewed every third of it, or within a second when its running jobs change (a
step of `WorkerLoops`), so a worker that stops renewing it, SIGKILLed or cut off, disappears
within one lease timeout. The sorted set
`<prefix>:workers` indexes the ids, so that listing workers reads two keys per worker and never
scans the keyspace; ids whose record expired are dropped from it as they are found.

The record: `id`, `host`, `pid`, `queues` (name: weight), `concurrency`, `prefetch`,
`started_at` and `heartbeat_at` (epoch seconds, the worker's clock), `ttl` (seconds), `held`, and
`running` (per running job: `id`, `queue`, `type`, `started_at`), and `version`.
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
import socket
import time
from datetime import UTC, datetime
from importlib import metadata
from typing import Any, cast

import orjson
from redis.asyncio import Redis

from jobqueue._held import Attempts
from jobqueue.redis._connection import PipelinedConnection
from jobqueue.redis._keys import worker_key, workers_index
from jobqueue.redis._views import RunningJob, WorkerInfo
from jobqueue.settings import QueueSettings

__all__ = ["WorkerPresence", "live_workers"]

_INDEX_GRACE_MS = 3_600_000
"""Index entries this long past their expiry are dropped by any renewal."""


@functools.cache
def _version() -> str:
    try:
        return metadata.version("jobqueue")
    except metadata.PackageNotFoundError:
        return "unknown"


class WorkerPresence:
    """The record of one worker process in Redis.

    Args:
        client: The worker's Redis client.
        settings: The worker's settings (queues, concurrency, lease timeout, key prefix).
        attempts: The deliveries the worker holds.
        connection: The broker's pipelined connection, which reconnects by itself after an
            outage; without it, the client's pool is used.
    """

    def __init__(
        self,
        client: Redis,
        settings: QueueSettings,
        attempts: Attempts,
        connection: PipelinedConnection | None = None,
    ) -> None:
        self.client = client
        self.connection = connection
        self.settings = settings
        self.attempts = attempts
        host = socket.gethostname()
        self.id = f"{host}:{os.getpid()}:{secrets.token_hex(3)}"
        self.host = host
        self.started_at = time.time()
        self._key = worker_key(settings.key_prefix, self.id)
        self._index = workers_index(settings.key_prefix)
        self._written_at = 0.0
        self._written_running: tuple[tuple[str, str], ...] = ()

    def record(self, now: float) -> dict[str, Any]:
        """The record as it is written now."""
        s = self.settings
        clock = time.monotonic()
        held = self.attempts.unacknowledged()
        running = [
            {
                "id": d.id,
                "queue": d.queue,
                "type": d.job_type,
                "started_at": round(now - (clock - d.started_at), 3),
            }
            for d in held
            if d.started_at is not None
        ]
        return {
            "id": self.id,
            "host": self.host,
            "pid": os.getpid(),
            "queues": dict(s.queues),
            "concurrency": s.concurrency,
            "prefetch": s.prefetch,
            "started_at": round(self.started_at, 3),
            "heartbeat_at": round(now, 3),
            "ttl": s.lease_timeout,
            "held": len(self.attempts),
            "running": running,
            "version": _version(),
        }

    @property
    def interval(self) -> float:
        """Seconds between two looks at the record: a second, or a third of the lease if less."""
        return min(1.0, self.settings.lease_timeout / 3)

    async def renew(self) -> None:
        """Write the record again if its jobs changed or a third of its time to live passed.

        The first call registers it. So the running jobs shown are at most a second old, while
        an idle worker writes its record only every third of a lease timeout.
        """
        now = time.time()
        running = tuple(d.key for d in self.attempts.unacknowledged() if d.started_at)
        fresh = now - self._written_at < self.settings.lease_timeout / 3
        if fresh and running == self._written_running:
            return
        self._written_at, self._written_running = now, running
        ttl_ms = max(1, int(self.settings.lease_timeout * 1000))
        expires = int(now * 1000) + ttl_ms
        await self._send(
            [
                ["SET", self._key, orjson.dumps(self.record(now)), "PX", ttl_ms],
                ["ZADD", self._index, expires, self.id],
                ["ZREMRANGEBYSCORE", self._index, "-inf", int(now * 1000) - _INDEX_GRACE_MS],
            ]
        )

    async def remove(self) -> None:
        """Delete the record (graceful shutdown); if Redis is away it expires by itself."""
        with contextlib.suppress(Exception):
            await self._send([["DEL", self._key], ["ZREM", self._index, self.id]])

    async def _send(self, commands: list[list[Any]]) -> None:
        if self.connection is not None:
            replies = await self.connection.call_many(commands)
        else:
            async with self.client.pipeline(transaction=False) as pipe:
                for command in commands:
                    pipe.execute_command(*command)
                replies = await pipe.execute(raise_on_error=False)
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply


async def live_workers(client: Redis, prefix: str) -> list[WorkerInfo]:
    """Every worker whose record has not expired, by host and pid."""
    index = workers_index(prefix)
    ids = cast(list[bytes], await client.zrange(index, 0, -1))
    if not ids:
        return []
    raws = cast(
        list[bytes | None], await client.mget([worker_key(prefix, i.decode()) for i in ids])
    )
    gone = [i for i, raw in zip(ids, raws, strict=True) if raw is None]
    if gone:
        await client.zrem(index, *gone)
    workers = [_worker(orjson.loads(raw)) for raw in raws if raw is not None]
    return sorted(workers, key=lambda w: (w.host, w.pid, w.id))


def _time(seconds: Any) -> datetime:
    return datetime.fromtimestamp(float(seconds or 0), UTC)


def _worker(raw: dict[str, Any]) -> WorkerInfo:
    heartbeat = float(raw.get("heartbeat_at", 0))
    return WorkerInfo(
        id=str(raw.get("id", "?")),
        host=str(raw.get("host", "?")),
        pid=int(raw.get("pid", 0)),
        queues={str(k): int(v) for k, v in dict(raw.get("queues", {})).items()},
        concurrency=int(raw.get("concurrency", 0)),
        prefetch=int(raw.get("prefetch", 0)),
        started_at=_time(raw.get("started_at")),
        heartbeat_at=_time(heartbeat),
        expires_at=_time(heartbeat + float(raw.get("ttl", 0))),
        running=tuple(
            RunningJob(
                id=str(job.get("id")),
                queue=str(job.get("queue")),
                job_type=str(job.get("type")),
                started_at=_time(job["started_at"]) if job.get("started_at") else None,
            )
            for job in raw.get("running", [])
        ),
        held=int(raw.get("held", 0)),
        version=str(raw.get("version", "")),
    )
