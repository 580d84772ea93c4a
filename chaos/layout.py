"""Everything the chaos harness reads or writes in Redis behind the public API.

The storage layout is the library's own business and may change, so every function that knows
it is in this module, and nowhere else:

- `dead_reasons` reads the dead set through `Inspector`, the supported API (layout-free), and
  only if that fails from the job hashes' `error` field;
- `write_raw_bad_record` stores a job the way the enqueue script does, but with any bytes as its
  record: field `<id>` of the queue's `<prefix>:{<queue>}:jobs` hash, and the id pushed onto
  `<prefix>:{<queue>}:pending`;
- `write_raw_bad_job` stores a job the way jobqueue 0.1 did, but with any bytes as its message
  (or none at all): job hash `<prefix>:{<queue>}:job:<id>` with fields `msg`, `type`, `queue`,
  `state`, ..., and the id pushed onto pending;
- `placements` lists where each id is at the end of a scenario: the `pending` list, the
  `lease`, `scheduled`, `retry`, `dead` and `completed` sorted sets, and whether its job hash
  exists;
- `leased_then_pause` reads the `lease` set and pauses every client in one pipelined write, so
  that the ids it returns are exactly the jobs whose leases run out during the pause.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import cast

from redis.asyncio import Redis

from jobqueue.options import JobState
from jobqueue.redis import QueueKeys, RedisJobBroker
from jobqueue.redis.inspector import Inspector

__all__ = [
    "DeadSet",
    "Placement",
    "dead_reasons",
    "leased_then_pause",
    "placements",
    "write_raw_bad_job",
]

WAITING = ("pending", "lease", "scheduled", "retry")
"""Places a job is in while it still has to run."""


async def dead_reasons(broker: RedisJobBroker, limit: int = 100_000) -> DeadSet:
    """Id -> error of every job in the dead sets of the broker's queues.

    Read through `Inspector.jobs(queue, "dead")`, the supported API. Should that fail (a record
    it cannot parse), the reasons are read from the job hashes' `error` field instead, and the
    inspector's error is kept in `inspector_error`.
    """
    inspector = Inspector(broker)
    out = DeadSet()
    for queue in broker.settings.queues:
        try:
            records = await inspector.jobs(queue, JobState.DEAD, limit)
        except Exception as exc:
            out.inspector_error = f"{type(exc).__name__}: {exc}"
            keys = QueueKeys(broker.settings.key_prefix, queue)
            ids = cast(list[bytes], await broker.client.zrange(keys.dead, 0, limit - 1))
            for raw in ids:
                error = cast(
                    bytes | None, await broker.client.hget(keys.job(raw.decode()), "error")
                )
                out.reasons[raw.decode()] = (error or b"").decode(errors="replace")
            continue
        for record in records:
            out.reasons[record.id] = record.error or ""
    return out


@dataclass
class DeadSet:
    """The dead jobs' reasons, and whether `Inspector` could list them."""

    reasons: dict[str, str] = field(default_factory=dict)
    inspector_error: str | None = None


async def write_raw_bad_record(
    client: Redis, prefix: str, queue: str, job_id: str, record: bytes
) -> None:
    """Make `job_id` pending with `record` as its stored record (the current layout)."""
    keys = QueueKeys(prefix, queue)
    await client.hset(keys.jobs, job_id, record)
    await client.lpush(keys.pending, job_id)


async def write_raw_bad_job(
    client: Redis, prefix: str, queue: str, job_id: str, message: bytes | None
) -> None:
    """Make `job_id` pending with `message` as its stored message; `None` stores no job at all.

    What a producer with a bug, a half-finished migration or an attacker with Redis access
    might leave where jobs are read from.
    """
    keys = QueueKeys(prefix, queue)
    if message is not None:
        await client.hset(
            keys.job(job_id),
            mapping={
                "msg": message,
                "type": "chaos:raw",
                "queue": queue,
                "state": "pending",
                "enqueued_at": 0,
                "process_at": 0,
                "max_retry": "",
                "timeout": "",
                "unique": "",
                "retried": 0,
                "lost": 0,
            },
        )
    await client.lpush(keys.pending, job_id)


@dataclass
class Placement:
    """Where one id is: the sets or lists that hold it (a list may hold it twice)."""

    places: list[str] = field(default_factory=list)
    stored: bool = False
    """Whether Redis holds its record (or, for a job of jobqueue 0.1, its job hash)."""

    @property
    def waiting(self) -> bool:
        """Still in a place it leaves only by running."""
        return any(place in WAITING for place in self.places)


async def placements(client: Redis, prefix: str, queues: Iterable[str]) -> dict[str, Placement]:
    """Every id found in a queue's lists and sets, with where it is."""
    out: dict[str, Placement] = {}
    for queue in queues:
        keys = QueueKeys(prefix, queue)
        async with client.pipeline(transaction=False) as pipe:
            pipe.lrange(keys.pending, 0, -1)
            for zset in (keys.lease, keys.scheduled, keys.retry, keys.dead, keys.completed):
                pipe.zrange(zset, 0, -1)
            replies = cast(list[list[bytes]], await pipe.execute())
        here: dict[str, Placement] = {}
        for place, ids in zip(("pending", *WAITING[1:], "dead", "completed"), replies, strict=True):
            for raw in ids:
                here.setdefault(raw.decode(errors="replace"), Placement()).places.append(place)
        async with client.pipeline(transaction=False) as pipe:
            for job_id in here:
                pipe.hexists(keys.jobs, job_id)
                pipe.exists(keys.job(job_id))
            exists = cast(list[int], await pipe.execute())
        for (job_id, placement), record, attempt in zip(
            here.items(), exists[::2], exists[1::2], strict=True
        ):
            placement.stored = bool(record or attempt)
            if job_id in out:  # the same id in two queues
                out[job_id].places += [f"{queue}:{p}" for p in placement.places]
                out[job_id].stored = out[job_id].stored or placement.stored
            else:
                out[job_id] = placement
    return out


async def leased_then_pause(
    client: Redis, prefix: str, queues: Iterable[str], pause_ms: int
) -> set[str]:
    """The ids leased right now, then `CLIENT PAUSE pause_ms ALL`, in one write.

    Redis runs the commands of one client's pipeline back to back, so no other client's fetch
    can slip in between the read and the pause.
    """
    names = list(queues)
    async with client.pipeline(transaction=False) as pipe:
        for queue in names:
            pipe.zrange(QueueKeys(prefix, queue).lease, 0, -1)
        pipe.execute_command("CLIENT", "PAUSE", pause_ms, "ALL")
        replies = await pipe.execute()
    return {raw.decode() for ids in replies[: len(names)] for raw in ids}
